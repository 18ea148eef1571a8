"""SQL injection: does the value break out of the literal it was meant to be, into SQL?

The approach is libinjection's: tokenize the value as SQL three ways (as a bare
value, and as if it were inside a ``'...'`` or ``"..."`` literal), reduce the first
tokens to a signature of token kinds, and match the signature against the shapes
injections take: a closed literal followed by a boolean, an operator, a clause, a
stacked statement, UNION SELECT or a comment. Text that merely contains quotes
("O'Brien", "rock 'n' roll") or SQL words ("select a size") tokenizes into shapes
no injection has. A few database functions that only attacks call with such
arguments (``sleep(5)``, ``benchmark(1000000,``) are matched directly.
"""

from __future__ import annotations

import re

from .decode import mentions
from .findings import Confidence, Hit

# Token kinds: s string, n number (and null/true/false), v @variable, f known SQL
# function, b bareword, = comparison, o other operator, & boolean operator, U union, E select,
# T other statement, K clause keyword, k other keyword, c comment to the end,
# ( ) , ; . punctuation, ? anything else.
_WORDS: dict[str, str] = {
    **dict.fromkeys(("and", "or", "xor"), "&"),
    **dict.fromkeys(("like", "rlike", "regexp", "is", "in", "between", "sounds", "glob",
                     "match"), "="),
    **dict.fromkeys(("div", "mod", "not", "collate", "escape"), "o"),
    **dict.fromkeys(("null", "true", "false"), "n"),
    "union": "U",
    "select": "E",
    **dict.fromkeys(("insert", "update", "delete", "drop", "create", "alter", "truncate",
                     "exec", "execute", "declare", "waitfor", "shutdown", "grant", "revoke",
                     "rename", "replace", "load", "call", "handler", "merge", "copy"), "T"),
    **dict.fromkeys(("order", "group", "by", "having", "limit", "offset", "procedure",
                     "into", "where", "outfile", "dumpfile", "fetch"), "K"),
    **dict.fromkeys(("from", "as", "case", "when", "then", "else", "end", "all", "distinct",
                     "top", "join", "on", "asc", "desc", "values", "table", "exists",
                     "database", "schema", "set", "with", "default"), "k"),
}
# Words that are functions when a "(" follows; any other word before "(" stays a bareword.
_FUNCTIONS = frozenset("""
    sleep pg_sleep benchmark if ifnull nullif isnull coalesce ascii ord char chr concat
    concat_ws group_concat string_agg substring substr mid left right length len
    char_length version user current_user session_user system_user database schema
    md5 sha sha1 sha2 hex unhex bin count sum avg min max floor ceil ceiling round rand
    random exp pow power convert cast extractvalue updatexml load_file randomblob
    upper lower elt make_set field instr locate position strcmp replace reverse
    now sysdate current_database current_schema pg_read_file lo_import
    dbms_pipe dbms_lock utl_inaddr utl_http xmltype exists iif
    """.split())
_TOKEN = re.compile(
    r"(?P<ws>[\s\x00\xa0]+|/\*![0-9]{0,6}|\*/)"
    r"|(?P<num>0x[0-9a-f]+|0b[01]+|[0-9]+(?:\.[0-9]*)?(?:e[+-]?[0-9]+)?|\.[0-9]+)"
    r"|(?P<var>@@?[a-z0-9_.$]*)"
    r"|(?P<word>[a-z_][a-z0-9_$]*|[^\x00-\x7f][^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]*)"
    r"|(?P<op><=>|<>|!=|>=|<=|\|\||&&|::|:=|[=<>+\-*/%^~|&!])"
    r"|(?P<punct>[(),;.])"
    r"|(?P<other>.)",
    re.S,
)
_COMPARISONS = frozenset(("=", "<", ">", "<=", ">=", "<>", "!=", "<=>"))
_MAX_TOKENS = 16
_AFTER_LITERAL_KINDS = frozenset(";U&o=Kc")
_BARE_START = frozenset("nv(&KUEof;)")
_KEYWORDS = "|".join(word for word, kind in _WORDS.items() if kind in "&=oUEK")
# Cheap first looks (supersets of what the tokenizer would find there).
_AFTER_LITERAL = re.compile(
    rf"[\s\x00\xa0)]*(?:[;=<>!|&+\-*/%^~#:]|(?:{_KEYWORDS})(?![a-z0-9_$]))"
)
_BARE_HEAD = re.compile(
    rf"[\s\x00\xa0]*(?:[0-9@(;)=<>!|&+\-~.]|(?:{_KEYWORDS}|{'|'.join(_FUNCTIONS)})(?![a-z0-9_$]))"
)

# Signature shapes, strongest first. A quote-context signature starts with the literal
# the value closes ("s"); a bare one with a number, variable or boolean operator.
_Rule = tuple["re.Pattern[str]", str, Confidence]


def _rules(*rules: tuple[str, str, Confidence]) -> tuple[_Rule, ...]:
    return tuple((re.compile(pattern), rule, confidence) for pattern, rule, confidence in rules)


_QUOTED = _rules(
    (r"^s\)*;\(*[ETU]", "sqli.stacked_query", "high"),
    (r"^s\)*U\(*E", "sqli.union_select", "high"),
    (r"^s\)*&\(*(?:o\(*)?(?:[fE]|[snvb]\)*(?:[=o&]|c)|s\)*s|[snv]\)*$)", "sqli.boolean", "high"),
    (r"^s\)*[o=]\(*(?:f|[snvb]\)*(?:=|c))", "sqli.operator", "high"),
    (r"^s\)*=\(*[snv]\)*(?:&|$)|^s\)*o\(*[snv]\)*$", "sqli.operator", "medium"),
    (r"^s\)*K+\(*(?:[nf]|[bsv]\)*(?:[=,]|c|$))", "sqli.clause", "high"),
    (r"^s\)*(?:;\)*)?c", "sqli.comment", "medium"),
)
_BARE = _rules(
    (r"^o?[nv]?\)*;\(*[ETU]", "sqli.stacked_query", "high"),
    (r"[nsv)]\)*U\(*E", "sqli.union_select", "high"),
    (r"^U\(*E\(*[nvf]", "sqli.union_select", "high"),
    (r"^o?[nv]\)*&\(*(?:o\(*)?(?:[fE]|[snvb]\)*(?:=|c))", "sqli.boolean", "high"),
    (r"^o?[nv]\)*K+\(*(?:[nf]|[bsv]\)*(?:[=,]|c))", "sqli.clause", "high"),
    (r"^&\(*(?:o\(*)?(?:[fE]|[snvb]\)*=\(*[snvbf]|[snv]\)*c)", "sqli.boolean", "high"),
    (r"^o?[nv]\)*[=o&]\(+E", "sqli.subquery", "high"),
    (r"^f\(+[nsv]=[nsv]", "sqli.boolean", "high"),
    (r"^K+\(*n\)*c", "sqli.clause", "high"),
    (r"^K+\(*[nbsv]=\(*[nbsv]", "sqli.clause", "medium"),
    (r"^\(+E", "sqli.subquery", "medium"),
    (r"Kn=n", "sqli.tautology", "medium"),
    (r"^o?n\)+(?:&|=|c)|^o?n\)*c", "sqli.comment", "medium"),
)
# Functions whose mere call with these arguments is an attack (timing, exfiltration).
_STRONG_CALLS = re.compile(
    r"\b(?:pg_)?sleep\s*\(\s*[0-9]+(?:\.[0-9]+)?\s*\)"
    r"|\bbenchmark\s*\(\s*[0-9]+\s*,"
    r"|\bwaitfor\s+(?:delay|time)\s+['\"][0-9]"
    r"|\brandomblob\s*\(\s*[0-9]"
    r"|\bdbms_(?:pipe\s*\.\s*receive_message|lock\s*\.\s*sleep)\s*\("
    r"|\butl_(?:inaddr\s*\.\s*get_host_(?:name|address)|http\s*\.\s*request)\s*\("
    r"|\bxp_(?:cmdshell|dirtree|regread)\b"
    r"|\bload_file\s*\(\s*(?:['\"]|0x|char\s*\()"
    r"|\binto\s+(?:out|dump)file\s+['\"]"
    r"|\b(?:extractvalue|updatexml)\s*\(\s*(?:[0-9]|rand|concat|0x|null)"
    r"|\b(?:char|chr)\s*\(\s*[0-9]+\s*\)\s*(?:\+|\|\||,)\s*(?:char|chr)\s*\("
)
# Substrings _STRONG_CALLS needs (cheap `in` checks before it).
_STRONG_MARKS = ("sleep", "benchmark", "waitfor", "randomblob", "dbms_", "utl_", "xp_",
                 "load_file", "into", "extractvalue", "updatexml", "char", "chr")


_CATALOG = re.compile(
    r"@@version\b|\binformation_schema\s*\.\s*(?:tables|columns|schemata|routines)\b"
    r"|\b(?:sysobjects|syscolumns|sqlite_master|pg_shadow|all_tables)\b|\bmysql\.user\b"
)


def _string_end(text: str, start: int, quote: str) -> tuple[int, bool]:
    """Index just past the literal that opened before ``start``, and whether it closed."""
    position = start
    while True:
        found = text.find(quote, position)
        if found < 0:
            return len(text), False
        if text.startswith(quote, found + 1):  # '' inside a literal
            position = found + 2
            continue
        backslashes = 0
        while found - backslashes - 1 >= start and text[found - backslashes - 1] == "\\":
            backslashes += 1
        if backslashes % 2:
            position = found + 1
            continue
        return found + 1, True


def _signature(text: str, start: int, limit: int = _MAX_TOKENS) -> str:
    """The token kinds of ``text[start:]``, for at most ``limit`` tokens (``limit`` 0: up to
    the first one that is not a closing parenthesis)."""
    head_only = limit == 0
    if head_only:
        limit = _MAX_TOKENS
    kinds: list[str] = []
    position, length = start, len(text)
    match = _TOKEN.match
    while position < length and len(kinds) < limit:
        char = text[position]
        if char in "'\"`":
            position = _string_end(text, position + 1, char)[0]
            kinds.append("b" if char == "`" else "s")
            continue
        if char == "#" or (char == "-" and text.startswith("-", position + 1)):
            kinds.append("c")
            break
        if char == "/" and text.startswith("*", position + 1) and not text.startswith(
            "!", position + 2
        ):
            close = text.find("*/", position + 2)
            if close < 0:
                kinds.append("c")
                break
            position = close + 2  # an inline comment separates tokens like a blank
            continue
        token = match(text, position)
        if token is None:  # pragma: no cover - the last alternative matches any character
            break
        position = token.end()
        group = token.lastgroup
        if group == "ws":
            continue
        value = token.group()
        if group == "word":
            kind = _WORDS.get(value, "b")
            if kind == "U" and kinds and kinds[-1] == "U":
                continue
            if value in ("all", "distinct") and kinds and kinds[-1] == "U":
                continue  # UNION ALL / UNION DISTINCT read as UNION
            if value in _FUNCTIONS:
                rest = text[position:position + 8].lstrip()
                if rest.startswith("("):
                    kind = "f"
        elif group == "num":
            kind = "n"
        elif group == "var":
            kind = "v"
        elif group == "op":
            kind = "&" if value == "&&" else "=" if value in _COMPARISONS else "o"
        elif group == "punct":
            kind = value
        else:
            kind = "?"
        kinds.append(kind)
        if head_only and kind != ")":
            break
    return "".join(kinds)


def _quoted_signature(text: str, quote: str) -> str | None:
    """The signature of ``text`` read as the inside of a ``quote`` literal, or None."""
    end, closed = _string_end(text, 0, quote)
    if not closed:
        return None
    # Every shape goes on from the literal (and closing parentheses) with one of these.
    if _AFTER_LITERAL.match(text, end) is None:
        return None
    head = _signature(text, end, 0).lstrip(")")
    if not head or head[0] not in _AFTER_LITERAL_KINDS:
        return None
    return "s" + _signature(text, end)


def _bare_signature(text: str) -> str | None:
    """The signature of ``text`` as a bare value, or None when no bare shape can start so."""
    if _BARE_HEAD.match(text) is not None:
        head = _signature(text, 0, 1)
        if head and head in _BARE_START:
            return _signature(text, 0)
    if "union" in text or ("=" in text and ("where" in text or "having" in text)):
        return _signature(text, 0)
    return None


def detect(text: str) -> Hit | None:
    """The first SQL injection shape in ``text`` (lowercase), or None."""
    for quote in ("'", '"'):
        if quote in text:
            signature = _quoted_signature(text, quote)
            if signature is not None and len(signature) > 1:
                for pattern, rule, confidence in _QUOTED:
                    if pattern.search(signature):
                        return Hit(rule, confidence, 0, len(text))
    first = text.lstrip()[:1]
    if first and first not in "'\"":
        signature = _bare_signature(text)
        if signature is not None:
            for pattern, rule, confidence in _BARE:
                if pattern.search(signature):
                    return Hit(rule, confidence, 0, len(text))
    if mentions(text, _STRONG_MARKS):
        found = _STRONG_CALLS.search(text)
        if found is not None:
            return Hit("sqli.function", "high", found.start(), found.end())
    if "@@" in text or "_" in text or "sys" in text:
        found = _CATALOG.search(text)
        if found is not None:
            return Hit("sqli.catalog", "medium", found.start(), found.end())
    return None
