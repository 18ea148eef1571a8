# ruff: noqa: E501, RUF001 - payloads and user text, verbatim
"""Benign traffic: requests real users of shops, forums, blogs and APIs send, attack-free.

Values are written as the application receives them (already URL-decoded). They
are deliberately full of what naive detectors trip on: apostrophes and quotes,
SQL words, code and markup in comments, URLs, paths, symbols in passwords.
``requests()`` combines them into at least 500 requests of every shape.
"""

from __future__ import annotations

import random
import string
from typing import Any

SEARCHES = [
    "O'Brien", "rock 'n' roll", "Guns N' Roses", "Ain't No Mountain High Enough",
    "don't stop me now", "Ben & Jerry's", "M&M's peanut", "AT&T prepaid plans",
    "Levi's 501 jeans", "Macy's thanksgiving parade", "children's books", "women's running shoes",
    "men's shirts size L", "Dunkin' donuts near me", "rock'n'roll hall of fame",
    "\"the catcher in the rye\"", "\"machine learning\" book", "32\" monitor", "5'11\" in cm",
    "6' 2\" tall", "2x4 lumber 8 ft", "50% off sale", "$20 gift card", "€50 voucher",
    "iPhone 15 Pro (256GB)", "USB-C to HDMI adapter", "AC/DC back in black", "Tom & Jerry",
    "Q&A session", "R&D tax credit", "B&B in Paris", "salt & pepper grinder", "fish & chips",
    "select comfort mattress", "union station parking", "drop shipping suppliers",
    "order by phone", "update drivers windows 11", "delete facebook account",
    "insert coin arcade", "create account", "table for two", "where to buy ethanol",
    "union jack flag", "select all checkbox", "SQL join tutorial", "how to use GROUP BY in SQL",
    "SELECT DISTINCT vs GROUP BY", "left join vs inner join", "python list comprehension",
    "c++ vector<int> sort", "std::map vs unordered_map", "regex \\d+ match digits",
    "javascript array map()", "what does 1=1 mean", "or best offer", "and/or meaning",
    "either/or fallacy", "1 or 2 bedroom apartment", "3 and 4 year olds", "2 adults 1 child",
    "16 oz to ml", "100 usd to eur", "1/2 cup sugar in grams", "3/4 inch plywood",
    "sleep apnea treatment", "sleep 8 hours", "benchmark cpu scores", "script writing course",
    "java script tutorial", "alert dog breed", "prompt engineering", "confirm email",
    "eval function python", "exec summary template", "cat food (grain free)", "dir en grey",
    "ping pong table", "echo dot 5th gen", "type 2 diabetes diet", "id card renewal",
    "find my iphone", "kill bill vol 2", "head & shoulders shampoo", "tail light replacement",
    "more than words lyrics", "less is more", "who won the game last night",
    "last minute flights", "host a party ideas", "route 66 road trip", "env file example",
    "set theory basics", "touch screen laptop", "rm -rf meaning", "ls vs dir",
    "how to install node.js", "what is /etc/hosts", "~/.bashrc alias", "C:\\Program Files",
    "windows 11 update error 0x80070002", "error: can't find module 'react'",
    "TypeError: 'NoneType' object is not subscriptable", "npm ERR! code ERESOLVE",
    "docker compose up -d", "git rebase -i HEAD~3", "kubectl get pods -n default",
    "pip install \"requests[socks]\"", "brew install python@3.12", "ssh -i key.pem user@host",
    "#hashtag ideas", "C# tutorial", "F# vs OCaml", "item #4521", "apt. #3B",
    "size 10 1/2", "10:30 am meeting", "vitamin b12", "covid-19 vaccine", "wi-fi extender",
    "e-mail etiquette", "t-shirt printing", "x-men: days of future past", "spider-man 2",
    "mission: impossible", "star wars: episode iv", "harry potter & the goblet of fire",
    "!important css", "50 cent", "P!nk tour", "Ke$ha songs", "A$AP Rocky",
    "naïve café", "crème brûlée recipe", "Zürich hotels", "São Paulo weather",
    "東京 ホテル", "北京烤鸭", "Москва погода", "مطعم قريب", "शादी के कपड़े",
    "1+1 offer", "2+2=4", "a+b squared", "e=mc2", "x = y + 2 solve", "f(x) = 2x + 1",
    "<3 emoji meaning", ":) vs :-)", "¯\\_(ツ)_/¯", "=) meaning", "-_- meaning",
    "lol!!!", "why?? seriously", "...", "...and then?", "wait -- what?",
    "before/after photos", "Black Friday deals!!!", "*new* arrivals", "[SOLD OUT]",
    "{placeholder}", "<no name>", "a < b", "x > 5", "5 > 3 > 1",
]

NAMES = [
    "O'Brien", "D'Angelo", "O'Neil", "Mary-Kate", "Jean-Luc Picard", "José Núñez",
    "Zoë Saldaña", "van der Berg", "de la Cruz", "St. John", "Smith & Sons Ltd.",
    "Renée O'Connor", "Dr. Martin Luther King, Jr.", "Anne-Marie D'Souza", "Ng",
    "Björk Guðmundsdóttir", "Nguyễn Văn An", "王小明", "محمد علي", "Łukasz Żółć",
    "J.R.R. Tolkien", "Sinéad O'Connor", "Shaquille O'Neal", "Conan O'Brien",
    "Mc'Donald", "Al-Hassan", "N'Golo Kanté", "Ta'Nehisi Coates", "Dwayne \"The Rock\" Johnson",
]
ADDRESSES = [
    "123 Main St., Apt #4", "P.O. Box 42", "c/o Smith & Sons, 5 High St", "Flat 3/12 King's Road",
    "1600 Pennsylvania Ave NW", "221B Baker Street", "Rue de l'Église 7", "Calle 5 #23-45",
    "Unit 7, 12-14 O'Connell St", "350 Fifth Avenue, 34th Floor", "Hauptstraße 5/2",
    "Building 3 (rear entrance)", "PO Box 1234; Station A", "42 Queen's Gate, London SW7",
    "1-2-3 Shibuya, Shibuya-ku", "Apt 5 - 3rd floor", "Lot 12, Route 9 & Hwy 3",
]
COMMENTS = [
    "Great product! Would buy again :)",
    "Didn't work for me -- returned it after 2 days.",
    "It's OK, but the 'premium' version isn't worth the extra $10.",
    "5 stars!!! My kids love it <3",
    "Arrived late; box was damaged. Customer service (Jane) was helpful though.",
    "Works with Windows 10/11 & macOS 14. Linux? Not tested.",
    "Size runs small -- order one size up.",
    "\"Best purchase ever\" -- my wife",
    "I'd give it 4/5. The app crashes when you select 'Export' on iOS 17.",
    "Anyone know if it fits a 2019 Honda Civic? Part # 12345-ABC-678",
    "Thanks for the update. One question: where do I find the settings page?",
    "**Update:** fixed after the latest firmware (v2.3.1).",
    "Use `pip install -U package` and it works.",
    "Try this:\n\n```python\nfor i in range(10):\n    print(i)\n```",
    "In SQL you'd write `SELECT name FROM users WHERE id = 1` to get one row.",
    "My query: SELECT * FROM orders WHERE status = 'paid' ORDER BY created_at DESC",
    "You need a LEFT JOIN here, not an INNER JOIN, or you'll drop rows without matches.",
    "Don't forget the WHERE clause in your UPDATE statement or you'll update every row!",
    "To delete duplicates, use ROW_NUMBER() OVER (PARTITION BY email ORDER BY id).",
    "In JS: `const total = items.reduce((a, b) => a + b.price, 0);`",
    "Check `if (x === null || x === undefined)` before using it.",
    "Python tip: `with open('data.txt') as f: lines = f.readlines()`",
    "> quoted reply\n\nI agree with the above.",
    "- item one\n- item two\n- item three",
    "1. Preheat oven to 350°F\n2. Mix flour & sugar\n3. Bake 25-30 min",
    "See [the docs](https://docs.example.com/guide#install) for details.",
    "![screenshot](https://i.imgur.com/abc123.png)",
    "Line one\nLine two\r\nLine three",
    "Tabs\tseparated\tvalues",
    "Price went from $19.99 to $24.99 (+25%). Not happy.",
    "Is it 100% cotton? The label says 60/40.",
    "Question re: order #A-10023 -- can I change the address?",
    "Meeting @ 3pm w/ the team; agenda: Q3 numbers & hiring.",
    "Email me at jane.doe+shop@example.com if you have it in stock.",
    "Call me: +1 (555) 010-9999 ext. 42",
    "Who's going to the concert on Sat.? I've got 2 extra tix.",
    "Ugh... the wifi keeps dropping every ~10 minutes.",
    "The <b>bold</b> tag doesn't render in comments, FYI.",
    "Use <br> for line breaks in the old editor.",
    "a<b && b<c means a<c",
    "x << 2 is the same as x * 4",
    "In Bash, `cd ~/projects && ls -la` shows hidden files too.",
    "Run `docker ps | grep web` to find the container.",
    "The path is C:\\Users\\Anna\\Documents\\report.docx",
    "Config lives in /etc/nginx/sites-available/default on Ubuntu.",
    "Move it to ../assets/images and update the import.",
    "Set the header to `Content-Type: application/json; charset=utf-8`.",
    "Template syntax is {{ name }} for variables and {% if user %} for conditions.",
    "Dear {{first_name}}, your order {{order_id}} has shipped.",
    "Hi ${name}, welcome aboard!",
    "Our motto: work hard; play hard.",
    "Either way -- yes or no -- let me know by Friday.",
    "C'est la vie! Qu'est-ce que c'est?",
    "¿Dónde está la biblioteca? ¡Gracias!",
    "日本語のレビュー：とても良い商品です。",
    "Отличный товар, рекомендую!",
    "I ordered 3 (three) but got 2; please send the missing one.",
    "Recipe: 2 cups flour; 1 tsp salt; 1/2 cup butter (softened).",
    "Score: 3-1 (OT). What a game!",
    "Version 1.2.3-beta+build.45 fixed it.",
    "Ratio should be 16:9, not 4:3.",
    "It's the #1 reason I switched -- battery life (14 hrs!).",
    "Rated 'M' for Mature; not for kids under 17.",
    "What's the difference between 'its' and 'it's'?",
    "He said, \"I'll be back,\" and left.",
    "The function returns `None` if the key isn't found; use dict.get(key, default).",
    "Remember: 1 != 2, but 1 == 1.0 in Python.",
    "My password manager generated something like Xk9#mP2$vL. Is that strong?",
    "Regex for emails: ^[\\w.+-]+@[\\w-]+\\.[\\w.]+$ (not perfect!)",
    "Use JSON like {\"name\": \"Ann\", \"age\": 30}.",
    "Order of operations: (2 + 3) * 4 = 20",
    "I live on 5th & Main -- the corner shop.",
    "Happy birthday!!! 🎉🎂",
    "Thanks 🙏 works perfectly 👍",
    "N/A",
    "TBD -- will update later",
    "See attached (page 3/7).",
    "Vote for option A or B? I'd pick B.",
    "Reminder: pay rent on the 1st; utilities on the 15th.",
    "Sorry for the late reply -- been swamped.",
    "UPDATE: it's back in stock!",
    "DROP by anytime this week :)",
    "Select the blue one, it looks nicer.",
    "Union rep said the strike is over.",
    "We'll sleep(!) on it and decide tomorrow.",
    "Can you alert me when it's available?",
    "Type your name, then click 'Continue'.",
    "Echo chamber effect is real on social media.",
    "The cat sat on the mat; the dog didn't.",
    "Ping me on Slack if anything breaks.",
    "This is a long comment. " * 20,
]
URLS = [
    "https://www.example.com/", "https://shop.example.com/products/42?ref=email&utm_source=nl",
    "https://youtu.be/dQw4w9WgXcQ?t=42", "https://en.wikipedia.org/wiki/Rock_%27n%27_roll",
    "https://github.com/psf/requests/issues/123#issuecomment-456",
    "https://maps.google.com/?q=40.7128,-74.0060", "http://example.org/a/b/c.html",
    "https://cdn.example.net/img/cat.png?w=300&h=200", "https://news.ycombinator.com/item?id=1",
    "/dashboard?tab=settings", "/account/orders/", "/checkout/step-2", "/", "../help",
    "https://docs.python.org/3/library/re.html#re.fullmatch", "https://t.co/AbC123xyz",
    "mailto:support@example.com", "tel:+15550109999", "https://example.com/search?q=o%27brien",
    "https://api.example.com/v2/users/me", "ftp://ftp.example.com/pub/file.zip",
    "https://www.amazon.com/dp/B08N5WRWNW/ref=sr_1_1?keywords=monitor",
    "https://calendar.example.com/event?id=abc&date=2024-03-15T10:00:00Z",
    "https://hooks.example.com/webhook/incoming", "https://my-site.netlify.app/blog/post-1",
]
PATHS = [
    "/", "/search", "/products/32-inch-monitor", "/blog/2024/03/rock-n-roll-history",
    "/u/o'brien", "/wiki/C++", "/wiki/Guns_N'_Roses", "/files/report-2024.pdf",
    "/static/js/app.3f2a1b.js", "/api/v1/users/42/orders", "/category/men's-shoes",
    "/tags/c#", "/recipes/mac-&-cheese", "/@jane.doe", "/~alice/home.html",
    "/docs/getting-started/", "/search/results;jsessionid=ABC123", "/events/2024-03-15",
    "/shop/sale (50% off)", "/p/café-au-lait", "/products/usb-c/hdmi", "/r/AskReddit/comments/x1y2z3",
]
FILENAMES = [
    "report-2024.pdf", "IMG_0042.JPG", "resume (final) v2.docx", "budget_Q3 2024.xlsx",
    "C:\\Users\\Anna\\Documents\\cv.docx", "photos/summer/beach.png", "src/app/main.py",
    "docs/README.md", "~/Downloads/invoice #123.pdf", "notes.txt", "archive.tar.gz",
    "O'Brien contract.pdf", "draft -- do not share.doc", "data (1).csv", "../shared/logo.svg",
]
EMAILS = [
    "jane.doe@example.com", "o'brien@example.ie", "john+newsletter@gmail.com",
    "first.last@sub.domain.co.uk", "user_name-123@example-mail.com", "\"quoted\"@example.com",
]
MISC = [
    "2024-03-15", "15/03/2024", "03/15/24", "10:30", "10:30 PM", "2024-03-15T10:00:00Z",
    "2024-03-15T10:00:00.123456+02:00", "$1,299.99", "€1.299,00", "£15", "¥5000", "19.99",
    "-12.5", "+1 (555) 010-9999", "+44 20 7946 0958", "555-0100", "N/A", "n/a", "TBD",
    "true", "false", "null", "0", "1", "42", "3.14159", "1e-5", "0x1F", "#FF5733", "rgb(255, 87, 51)",
    "100%", "A+", "B-", "C#/.NET", "5'11\"", "6 ft 2 in", "40.7128,-74.0060", "SW7 2AZ",
    "90210", "75008 Paris", "en-US", "pt_BR", "UTC+05:30", "America/New_York", "price-asc",
    "created_at:desc", "-created_at", "name,email,phone", "id,title,author(name)",
    "width=device-width, initial-scale=1", "key1=value1", "a=1&b=2", "filter[status]=active",
    "color:red;font-weight:bold", "margin: 0 auto;", "@media (max-width: 600px)",
    "Mozilla/5.0", "v2.3.1", "1.0.0-rc.1", "sha256:9f86d081884c7d65", "9780143127550",
    "978-0-14-312755-0", "4111 1111 1111 1111", "12/27", "ABC-123-XYZ", "order_2024_0042",
    "SKU#A12-B34", "[1, 2, 3]", "{\"a\": 1}", "(optional)", "<none>", "***", "---", "===",
    "=", "?", "&", ";", "...", "-", "--", "*", "#", "@", "!", "~", "^", "|", "/", "\\",
]
GRAPHQL = [
    "query { user(id: 42) { name email orders(first: 5) { id total } } }",
    "mutation AddToCart($id: ID!, $qty: Int = 1) { addToCart(productId: $id, quantity: $qty) { id } }",
    "query Search($q: String!) { search(query: $q, orderBy: {field: PRICE, direction: ASC}) { id name } }",
    "{ viewer { login repositories(last: 3) { nodes { name } } } }",
]
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl/8.5.0", "python-requests/2.31.0", "okhttp/4.12.0", "PostmanRuntime/7.37.3",
    "Go-http-client/2.0", "axios/1.6.8", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "MyApp/3.2.1 (iPhone; iOS 17.4; Scale/3.00)", "Dalvik/2.1.0 (Linux; U; Android 13; SM-S911B Build/TP1A.220624.014)",
]
REFERERS = [
    None, "https://www.google.com/", "https://www.google.com/search?q=o%27brien+shoes&oq=o%27brien",
    "https://shop.example.com/cart", "https://www.bing.com/search?q=%22rock+n+roll%22",
    "https://t.co/", "android-app://com.google.android.gm/", "https://duckduckgo.com/?q=ben+%26+jerry%27s",
    "https://shop.example.com/search?q=32%22+monitor&page=2",
]
FORWARDED = [None, "203.0.113.7", "203.0.113.7, 198.51.100.23", "2001:db8::1", "198.51.100.4, 10.0.0.2"]
COOKIES = [
    None, "sessionid=abc123; csrftoken=xyz", "_ga=GA1.2.1234.5678; _gid=GA1.2.99.88",
    "theme=dark; lang=en-US", "cart=%7B%22items%22%3A3%7D; consent=yes",
]
# Written after the detectors and run once, untuned (2 of them were flagged then, which
# led to narrower rules for whole-value command lines and "~/" paths).
LATER = [
 "Flight LH 400 FRA->JFK, seat 32A (window)", "Return: Mar 22 @ 18:45; 1 checked bag (23kg)",
 "Hotel: Le Méridien, Room 1204 -- non-smoking please", "Dietary: no nuts/shellfish; vegetarian",
 "Patient's allergies: penicillin (rash), latex?", "BP 120/80; HR 72 bpm; temp 98.6°F",
 "Dosage: 500mg 2x/day for 7 days", "Symptoms started ~3 days ago; worse at night",
 "Insurance ID: BCBS-883-221-A", "Emergency contact: Pat O'Hara (sister) +1-555-0142",
 "curl -X POST https://api.example.com/v1/charges -H 'Authorization: Bearer sk_test_xxx'",
 "GET /api/v1/users?limit=10&offset=20 returns 500 -- any idea?",
 "My .env has DATABASE_URL=postgres://localhost/app, is that right?",
 "Error: ENOENT: no such file or directory, open './config.json'",
 "SELECT * FROM information about the tour? (sorry, SQL brain lol)",
 "I tried `git checkout -- .` and lost my changes :(", "npm run build && npm start",
 "for (let i = 0; i < n; i++) { sum += a[i]; }", "x => x * 2", "a && b || c",
 "if (user.role === 'admin') { showPanel(); }", "print(f\"Hello, {name}!\")",
 "df.groupby('city')['sales'].sum().sort_values(ascending=False)",
 "SUM(B2:B10)/COUNT(B2:B10)", "=VLOOKUP(A2,Sheet2!A:B,2,FALSE)", "=IF(C3>100,\"high\",\"low\")",
 "hey!! r u coming 2nite?? 😂", "brb -- getting coffee ☕", "lmao that's so true 💯",
 "ok ok, I'll do it tmrw", "<- back", "-> next step", "=> result", "<<< previous", ">>> next",
 "@channel standup in 5", "#general is noisy today", "~50 people RSVP'd", "50/50 chance",
 "Rock & Roll Hall of Fame (Cleveland)", "Marks & Spencer", "Procter & Gamble", "H&M sale",
 "Barnes & Noble", "Johnson & Johnson", "AT&T Stadium", "Simon & Garfunkel tickets",
 "L'Oréal Paris", "Bailey's Irish Cream", "Hershey's Kisses", "Reese's Pieces", "Wendy's menu",
 "Dr. Pepper", "7-Eleven near me", "Toys\"R\"Us", "Yahoo!", "Panic! at the Disco",
 "Who's Afraid of Virginia Woolf?", "Don't Look Up (2021)", "It's Always Sunny in Philadelphia",
 "The 'Mona Lisa' painting", "\"To be, or not to be\"", "Romeo & Juliet; Act II, Scene 2",
 "Invoice #INV-2024-0017 (due 30/04)", "PO# 4500012345", "Ref: ABC/123/XYZ",
 "Tax ID 12-3456789", "VAT: GB123456789", "IBAN DE89 3704 0044 0532 0130 00",
 "Account: ****1234", "Exp 08/27", "ZIP 10001-1234", "Suite 200, 1 Infinite Loop",
 "Av. Paulista, 1578 - Bela Vista, São Paulo - SP, 01310-200", "Flat 2, 10 Downing St.",
 "C/ Gran Vía, 28, 3º izq.", "Kurfürstendamm 21 (Hinterhaus)", "〒100-0005 東京都千代田区丸の内1-1",
 "https://www.booking.com/hotel/fr/le-meridien.html?checkin=2024-03-20&checkout=2024-03-22",
 "https://zoom.us/j/1234567890?pwd=abcDEF", "https://docs.google.com/document/d/1AbC/edit#heading=h.x",
 "http://example.com:8080/path;params?query#frag", "s3://my-bucket/reports/2024/",
 "git@github.com:org/repo.git", "ssh://git@gitlab.com/org/repo.git",
 "/Users/ann/Library/Application Support/App", "D:\\Photos\\2023\\Beach (1).jpg",
 "\\\\fileserver\\share\\team", "./scripts/deploy.sh --env=staging", "~/.ssh/config",
 "C++/CLI", "Objective-C", "ASP.NET Core 8", "Node.js v20.11.1", "Python 3.12 (64-bit)",
 "100% satisfaction or your money back!", "Buy 2, get 1 free*", "*Terms & conditions apply",
 "Save 30%+ on orders $50+", "Free shipping (US only)", "Limited time: 48h left!",
 "5 ★★★★★ reviews", "Ages 3+", "PG-13", "R-rated (language)", "1080p/60fps", "4K@120Hz",
]
SORTS = ["relevance", "price-asc", "price-desc", "newest", "rating", "-created_at", "name"]


def passwords(count: int, seed: int = 20240315) -> list[str]:
    """Passwords as password managers generate them: every printable symbol allowed."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + string.punctuation
    result = []
    for index in range(count):
        length = rng.choice((12, 16, 20, 24, 32))
        if index % 5 == 4:  # and some that people make up
            words = rng.sample(["correct", "horse", "battery", "staple", "Summer", "Tiger",
                                "blue", "Coffee", "Mango", "rain"], 3)
            result.append("-".join(words) + f"{rng.randint(1, 99)}!")
        else:
            result.append("".join(rng.choice(alphabet) for _ in range(length)))
    return result


def _headers(index: int) -> dict[str, str]:
    headers = {"user-agent": USER_AGENTS[index % len(USER_AGENTS)]}
    for name, choices in (("referer", REFERERS), ("x-forwarded-for", FORWARDED),
                          ("cookie", COOKIES)):
        value = choices[index % len(choices)]
        if value is not None:
            headers[name] = value
    return headers


def requests() -> list[dict[str, Any]]:
    """The benign corpus: each item holds the keyword arguments of ``Inspector.inspect``
    (``headers`` as a dict, to be passed as ``header=headers.get``)."""
    from urllib.parse import urlencode

    result: list[dict[str, Any]] = []
    # Search pages: ten parameters, as shops and sites send them.
    for index, search in enumerate(SEARCHES):
        params = {
            "q": search, "page": str(index % 7 + 1), "sort": SORTS[index % len(SORTS)],
            "per_page": "24", "lang": "en-US", "utm_source": "newsletter",
            "utm_medium": "email", "utm_campaign": f"spring_sale_{2024 + index % 2}",
            "min_price": str(index % 50), "category": ["shoes", "books", "home & garden",
                                                       "kids' toys"][index % 4],
        }
        result.append({"path": "/search", "query": urlencode(params),
                       "headers": _headers(index)})
    # Logins: usernames and generated passwords.
    secrets = passwords(120)
    for index, password in enumerate(secrets):
        user = (NAMES + EMAILS)[index % len(NAMES + EMAILS)]
        form = {"username": user, "password": password, "remember": "on",
                "next": URLS[index % len(URLS)]}
        result.append({"path": "/accounts/login/", "form": form, "headers": _headers(index + 3)})
    # Sign-up and checkout forms.
    for index, name in enumerate(NAMES * 2):
        form = {
            "first_name": name.split(" ")[0], "last_name": name.split(" ")[-1], "full_name": name,
            "email": EMAILS[index % len(EMAILS)], "address": ADDRESSES[index % len(ADDRESSES)],
            "phone": MISC[13 + index % 3], "notes": COMMENTS[index % len(COMMENTS)],
            "password1": secrets[-(index % 40) - 1], "password2": secrets[-(index % 40) - 1],
        }
        result.append({"path": "/checkout/" if index % 2 else "/signup/", "form": form,
                       "headers": _headers(index + 5)})
    # Comments and reviews as JSON.
    for index, comment in enumerate(COMMENTS):
        document = {
            "post_id": index, "author": {"name": NAMES[index % len(NAMES)],
                                         "email": EMAILS[index % len(EMAILS)]},
            "body": comment, "rating": index % 5 + 1, "tags": ["review", SEARCHES[index]],
            "attachments": [{"filename": FILENAMES[index % len(FILENAMES)], "size": 1024 * index}],
        }
        result.append({"path": f"/api/posts/{index}/comments", "json": document,
                       "headers": _headers(index + 7)})
    # API calls: GraphQL, settings, search DSL, as raw JSON bodies.
    import orjson

    bodies: list[Any] = [{"query": query, "variables": {"q": SEARCHES[i], "id": "42"}}
                         for i, query in enumerate(GRAPHQL)]
    bodies += [
        {"filters": {"order": "desc", "sort_by": "created_at", "where": {"status": "active"}},
         "select": ["id", "name", "email"], "limit": 50},
        {"match": {"title": "union station"}, "from": 0, "size": 20},
        {"settings": {"theme": "dark", "timezone": "America/New_York", "locale": "en-US",
                      "date_format": "DD/MM/YYYY", "signature": "-- \nJane | ACME Inc."}},
        {"webhook_url": "https://hooks.example.com/webhook/incoming", "events": ["order.paid"]},
        {"redirect_uri": "https://app.example.com/oauth/callback?state=xyz"},
        {"avatar_url": "https://cdn.example.net/u/42.png", "bio": "Dev @ACME; I <3 Python & Rust."},
        {"sql": "SELECT id, name FROM products WHERE price < 100 ORDER BY price",
         "description": "saved report"},
        {"template": "Dear {{ customer.name }}, your invoice {{ invoice.number }} is due."},
        {"path": "reports/2024/q1/summary.pdf", "share_with": ["ann@example.com"]},
        {"code": "def add(a, b):\n    return a + b\n", "language": "python"},
        {"code": "SELECT COUNT(*) FROM users WHERE created_at > NOW() - INTERVAL '7 days';",
         "language": "sql"},
        {"code": "if [ -f ~/.bashrc ]; then . ~/.bashrc; fi", "language": "bash"},
        {"expression": "price * quantity * (1 - discount)"},
        {"items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}], "coupon": "SPRING-25%"},
    ]
    bodies += [{"title": search, "slug": search.lower().replace(" ", "-")} for search in
               SEARCHES[:40]]
    for index, document in enumerate(bodies):
        result.append({"path": "/api/graphql" if "query" in document else "/api/v1/items",
                       "body": orjson.dumps(document), "content_type": "application/json",
                       "headers": _headers(index + 11)})
    # Plain page views, with paths and filename or URL parameters.
    for index, path in enumerate(PATHS * 3):
        query = urlencode({"file": FILENAMES[index % len(FILENAMES)],
                           "return_to": URLS[index % len(URLS)], "v": MISC[index % len(MISC)]})
        result.append({"path": path, "query": query, "headers": _headers(index + 13)})
    # Urlencoded form bodies, as raw bytes.
    for index, value in enumerate(MISC + FILENAMES):
        body = urlencode({"field": value, "comment": COMMENTS[(index * 7) % len(COMMENTS)],
                          "email": EMAILS[index % len(EMAILS)]}).encode()
        result.append({"path": "/contact/", "body": body,
                       "content_type": "application/x-www-form-urlencoded",
                       "headers": _headers(index + 17)})
    # The later values, as searches and as JSON comments.
    for index, value in enumerate(LATER):
        if index % 2:
            result.append({"path": "/api/messages", "json": {"text": value, "thread": index},
                           "headers": _headers(index + 19)})
        else:
            result.append({"path": "/search", "query": urlencode({"q": value, "page": "1"}),
                           "headers": _headers(index + 19)})
    return result
