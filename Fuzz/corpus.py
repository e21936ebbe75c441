#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets: Fuzz/Corpus/<Target>/<name>.

Each seed is a valid input or a hostile case of the test suites (HostileInputTests,
PaymentCoreTests, AuthTests, RedisURLTests, HiredisReplyReaderTests), plus the cases
that issues added. The files are committed; rerun this after changing the list, and
`FUZZ_MERGE=1 Fuzz/run.sh` merges what the fuzzer found (files named by SHA-1).
Files this script writes are named; it never deletes a file it did not write.

Input formats (see each target's header comment):
  FuzzPaymentRequest  b"0" + body | b"1" + header + b"\\n" + body | b"2" + headers joined by CR + b"\\n" + body
  FuzzAPIKeys         file [+ b"\\0" + Authorization header]
  FuzzHiredisReplyReader  one byte choosing the split point + the stream
  others              the text itself
"""
import hashlib
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Corpus")


def write(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def body(user="u", amount="1.00", currency=None, key="k"):
    parts = [f'"user_id":"{user}"', f'"amount":{amount}']
    if currency is not None:
        parts.append(f'"currency":"{currency}"')
    if key is not None:
        parts.append(f'"idempotency_key":"{key}"')
    return "{" + ",".join(parts) + "}"


KEY = '"idempotency_key":"k"'
USER = '"user_id":"u"'

# The 64 KiB object of distinct members (the duplicate check must stay linear).
members = []
while sum(len(m) + 1 for m in members) < 65536 - 16:
    members.append(f'"m{len(members)}":{len(members)}')
wide = "{" + ",".join(members) + "}"

valid_bodies = {
    "valid-usd": body(user="user123", amount="100.0", currency="USD", key="unique-key-123"),
    "valid-eur": body(user="u.1:a_b-c", amount="10.50", currency="EUR", key="k-eur"),
    "valid-jpy": body(user="tanaka", amount="500", currency="JPY", key="k-jpy"),
    "valid-jpy-exponent": body(user="tanaka", amount="1e6", currency="JPY", key="k-jpy-max"),
    "valid-kwd": body(user="u", amount="1.234", currency="KWD", key="k-kwd"),
    "valid-bhd": body(user="u", amount="0.001", currency="BHD", key="k-bhd"),
    "valid-default-usd": body(amount="5"),
    "valid-currency-null": '{"user_id":"u","amount":5,"currency":null,"idempotency_key":"k"}',
    "valid-max-usd": body(amount="1000000.00"),
    "valid-notation": body(amount="1.5E1"),
    "valid-spaced": ' { "user_id" : "u" , "amount" : 0.01 , "idempotency_key" : "a b" } ',
    "valid-key-255": body(key="k" * 255),
    "valid-user-64": body(user="u" * 64),
    "valid-key-quote-escape": '{"user_id":"u","amount":1,"idempotency_key":"q\\"uote\\\\d"}',
}

hostile_bodies = {
    # HostileInputTests
    "malformed": '{"user_id":"u",,}',
    "truncated": '{"user_id":"u","amount":1.0,"idempotency_key":',
    "empty": "",
    "not-an-object": "[1,2,3]",
    "trailing-garbage": '{"user_id":"u","amount":1,"idempotency_key":"k"} x',
    "user-id-number": '{"user_id":7,"amount":1,' + KEY + "}",
    "amount-string": "{" + USER + ',"amount":"1.00",' + KEY + "}",
    "amount-string-nan": "{" + USER + ',"amount":"NaN",' + KEY + "}",
    "amount-nan-bare": "{" + USER + ',"amount":NaN,' + KEY + "}",
    "currency-number": "{" + USER + ',"amount":1,"currency":840,' + KEY + "}",
    "key-number": "{" + USER + ',"amount":1,"idempotency_key":5}',
    "missing-user": '{"amount":1,' + KEY + "}",
    "missing-amount": "{" + USER + "," + KEY + "}",
    "unknown-field": "{" + USER + ',"amount":1,' + KEY + ',"ammount":2}',
    "amount-0": body(amount="0"),
    "amount-negative": body(amount="-5"),
    "amount-minus-0": body(amount="-0"),
    "amount-1e309": body(amount="1e309"),
    "amount-19-nines-jpy": body(amount="9999999999999999999", currency="JPY"),
    "amount-19-digits-decimals": body(amount="99999999999999999.99"),
    "amount-largest-exponent": body(amount="1e9223372036854775807"),
    "amount-smallest-exponent": body(amount="1.5e-9223372036854775808"),
    "amount-3-decimals": body(amount="1.005"),
    "amount-above-max": body(amount="1000000.01"),
    "currency-unknown": body(currency="XYZ"),
    "currency-lower-case": body(currency="usd"),
    "user-braces": body(user="a{b}c"),
    "user-space": body(user="a b"),
    "user-unicode": body(user="us\u00e9r"),
    "user-65": body(user="u" * 65),
    "user-empty": body(user=""),
    "key-256": body(key="k" * 256),
    "key-empty": body(key=""),
    "key-control": '{"user_id":"u","amount":1,"idempotency_key":"a\\u0007b"}',
    "key-newline": '{"user_id":"u","amount":1,"idempotency_key":"a\\nb"}',
    "no-key": "{" + USER + ',"amount":1}',
    "nested-deep-arrays": "[" * 100 + "]" * 100,
    "nested-deep-objects": '{"a":' * 100,
    # The body limit is the HTTP layer's; here only the unknown member matters.
    "body-with-pad": "{" + USER + ',"amount":1,' + KEY + ',"pad":"' + "x" * 200 + '"}',
    # PaymentRequestTests
    "extra-member": '{"user_id":"u","amount":5,"idempotency_key":"k","extra":1}',
    "user-braces-only": '{"user_id":"{u}","amount":5,"idempotency_key":"k"}',
    "key-control-1": '{"user_id":"u","amount":5,"idempotency_key":"a\\u0001b"}',
    # Issues: KELVIN SIGN K is canonically equivalent to K, so "\u212aES" == "KES" in Swift.
    "currency-kelvin-raw": body(currency="\u212aES"),
    "currency-kelvin-escape": body(currency="\\u212aES"),
    "user-global": body(user="global"),
    "wide-object": wide,
}

hostile_bytes = {
    "invalid-utf8-in-string": b'{"user_id":"' + bytes([0xC3, 0x28]) + b'","amount":1,' + KEY.encode() + b"}",
    "invalid-utf8-outside": bytes([0xFF, 0xFE]) + b'{"user_id":"u"}',
}

for name, text in valid_bodies.items():
    write("FuzzPaymentRequest", name, b"0" + text.encode())
for name, text in hostile_bodies.items():
    write("FuzzPaymentRequest", name, b"0" + text.encode())
for name, data in hostile_bytes.items():
    write("FuzzPaymentRequest", name, b"0" + data)

no_key = '{"user_id":"u","amount":5}'
headers = {
    "header-quoted": ('"k-1"', no_key),
    "header-bare": ("abc", no_key),
    "header-spaces": ('  "a b"  ', no_key),
    "header-escapes": ('"q\\"uote\\\\d"', no_key),
    "header-and-body-same": ('"k"', '{"user_id":"u","amount":5,"idempotency_key":"k"}'),
    "header-and-body-differ": ("other", "{" + USER + ',"amount":1,' + KEY + "}"),
    "header-256": ("k" * 256, no_key),
    "header-unterminated": ('"unterminated', no_key),
    "header-text-after-quote": ('"a"b', no_key),
    # Issue: a comma is how HTTP joins repeated header lines.
    "header-comma": ("abc, abc", no_key),
    "header-comma-quoted": ('"abc, abc"', no_key),
    "header-joined-quoted": ('"abc", "abc"', no_key),
}
for name, (header, text) in headers.items():
    write("FuzzPaymentRequest", name, b"1" + header.encode() + b"\n" + text.encode())
write("FuzzPaymentRequest", "headers-repeated", b"2abc\rabc\n" + no_key.encode())
write("FuzzPaymentRequest", "headers-one", b"2abc\n" + no_key.encode())

# JSONParser: every body above, and JSONParserTests.
json_docs = dict(valid_bodies)
json_docs.update(hostile_bodies)
json_docs.update({
    "order-and-escapes": ' {"b": 1.50, "a": [true, false, null, "x\\n\\u00e9\\ud83d\\ude00"], "c": {}} ',
    "nested-32": "[" * 32 + "]" * 32,
    "nested-33": "[" * 33 + "]" * 33,
    "duplicate": '{"a":1,"a":2}',
    "duplicate-canonical-kelvin": '{"K":1,"\\u212a":2}',
    "duplicate-canonical-e-acute": '{"\\u00e9":1,"e\\u0301":2}',
    "duplicate-after-eight": "{" + ",".join(f'"m{i}":{i}' for i in range(9)) + ',"m3":0}',
    "numbers": '[0,-0,1.5e+3,2E-2,-12.75,123456789012345678901234567890]',
})
for i, text in enumerate(["", "{", '{"a":}', '{"a" 1}', "{'a':1}", "[1,]", '{"a":1,}', "01", "1.", ".5", "-", "1e",
                          "+1", "NaN", "tru", '"unterminated', '"bad \\x escape"', '"\\ud800"', '"\\udc00x"',
                          '{"a":1}{', '"tab\there"']):
    json_docs[f"invalid-{i:02d}"] = text
for name, text in json_docs.items():
    write("FuzzJSONParser", name, text)
for name, data in hostile_bytes.items():
    write("FuzzJSONParser", name, data)
write("FuzzJSONParser", "invalid-utf8-c3-28", bytes([0x22, 0xC3, 0x28, 0x22]))

# Money: MoneyTests.
numbers = ["100", "100.0", "0.01", "10.5", "10.50", "1.500", "1e2", "1.5E1", "1234.56", "0.1e1", "25e-2",
           "1000000", "1000000.00", "999999.99", "00.01", "0", "0.00", "-0", "-1", "-0.01", "0.001", "1.005",
           "1e-3", "1000000.01", "1e7", "1e309", "1e99999999999999999999", "123456789012345678901234567890",
           "NaN", "Infinity", "", "9999999999999999999", "9223372036854775807", "9223372036854775808",
           "18446744073709551616", "99999999999999999.99", "999999999999999999.9", "9999999999999999999.0",
           "9999999999999999999e0", "1e9223372036854775807", "1e9223372036854775806", "9e9223372036854775807",
           "1.5e9223372036854775807", "1e-9223372036854775808", "1.5e-9223372036854775808",
           "1.5e-9223372036854775807", "10e-9223372036854775808", "1e+9223372036854775807", "1e18", "1e19",
           "1e20", "100000000000000000000000000000000000000e-30", "1000000000000000000000000e-18",
           "0.0000000000000000001e19", "10000000000000000000e-19", "500", "500.5", "1.234",
           "1" + "0" * 5000, "1" + "0" * 5000 + "e-4990", "0." + "0" * 5000 + "1e5010", "0." + "0" * 5000 + "1e5001",
           "1" + "0" * 4000 + "e-3994"]
for i, text in enumerate(numbers):
    write("FuzzMoney", f"number-{i:02d}", text)

# API keys: AuthTests (hash of secret-a is what the tests use).
def sha(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


hash_a, hash_b = sha("secret-a"), sha("secret-b")
key_files = {
    "valid-comments-tabs": (f"\n# comment\nkey-a {hash_a} tenant-a   # trailing comment\n\tkey-b\t{hash_b.upper()}\ttenant-b\n",
                            "Bearer key-a.secret-a"),
    "valid-lower-bearer": (f"key-b {hash_b} tenant-b\n", "bearer key-b.secret-b"),
    "valid-wrong-secret": (f"key-a {hash_a} tenant-a\n", "Bearer key-a.secret-b"),
    "valid-no-dot": (f"key-a {hash_a} tenant-a\n", "Bearer nodot"),
    "valid-crlf": (f"# keys\r\nkey-a {hash_a} tenant-a\r\nkey-b {hash_b} tenant-b\r\n", "Bearer key-b.secret-b"),
    "two-fields": (f"key-a {hash_a}", None),
    "short-hash": ("key-a abc tenant", None),
    "key-braces": (f"# ok\nkey{{a}} {hash_a} t", None),
    "tenant-colon": (f"key-a {hash_a} tenant:x", None),
    "duplicate-id": (f"key-a {hash_a} t\nkey-a {hash_b} u", None),
    "empty": ("", "Bearer x.y"),
    # Found by fuzzing: Swift's "\r\n" is ONE Character, so splitting the text at "\n"
    # does not end a CRLF line; a comment then runs on over every following line.
    "finding-crlf-comment": (f"# keys\r\nkey-a {hash_a} tenant-a\r\n", "Bearer key-a.secret-a"),
    "finding-crlf-hides-broken-line": ("\n# com\r\r\r\r\nkey-a 8766b9cb tenant-a", None),
}
for name, (text, header) in key_files.items():
    data = text.encode() + (b"\0" + header.encode() if header is not None else b"")
    write("FuzzAPIKeys", name, data)

# Redis URLs: RedisURLTests.
urls = ["redis://cache.internal:6380", "redis://localhost", "redis://app:p%40ss%3Aword@10.0.0.5:6379/2",
        "redis://:secret@h", "redis://secret@h", "redis://[::1]:7000", "rediss://h:6380", "http://h:6379",
        "redis://", "redis://h:0", "redis://h:70000", "redis://h:abc", "redis://h/x", "redis://h/-1",
        "redis://:%zz@h", "redis://h o/", "redis://[::1", "redis://app:topsecret@h:1/4", "redis://:a@h",
        "rediss://user:pa%2Fss@[fe80::1]:6379/15", "redis://h:+80/+3",
        # The user name ends with the password's first bytes: the description must not
        # depend on the password, though its text may contain the same bytes.
        "redis://ab.c:c:@h", "redis://[v1.fe80::1]:1/0", "redis://h\u0301:1", "redis://\u212a:1"]
for i, text in enumerate(urls):
    write("FuzzRedisURL", f"url-{i:02d}", text)

# hiredis replies: HiredisReplyReaderTests, and hostile lengths and nesting.
replies = {
    "simple": "+OK\r\n", "error": "-ERR unknown command 'FOO'\r\n", "integer-0": ":0\r\n", "integer-negative": ":-42\r\n",
    "integer-max": ":9223372036854775807\r\n", "bulk": "$5\r\nhello\r\n", "bulk-empty": "$0\r\n\r\n",
    "bulk-crlf-inside": "$4\r\na\r\nb\r\n", "null-bulk": "$-1\r\n", "null-array": "*-1\r\n", "array-empty": "*0\r\n",
    "nested": "*3\r\n:1\r\n*2\r\n+a\r\n$-1\r\n*1\r\n*1\r\n-ERR inner\r\n",
    "several": "+A\r\n:2\r\n$1\r\nc\r\n+partial", "invalid-type": "?what\r\n",
    "bulk-4k": "$4096\r\n" + "x" * 4096 + "\r\n",
    "nested-8": "*1\r\n" * 8 + ":1\r\n", "bulk-negative-2": "$-2\r\n", "integer-garbage": ":12a\r\n",
    "integer-overflow": ":99999999999999999999\r\n", "bulk-huge-length": "$9223372036854775807\r\n",
    "array-large-count": "*100000\r\n",
    # Found by fuzzing: hiredis 0.14 callocs count x 8 bytes on reading the header, 16 GiB here.
    "finding-array-count-16gib": ":3\r\n:2\r\n*2147483647\r\n*1\r\n*1\r\n-ERR inner\r\n",
    "array-count-nested-max": "*2147483647\r\n" * 3, "resp3-map": "%1\r\n+a\r\n+b\r\n", "bulk-short": "$3\r\nab\r\n",
}
for name, text in replies.items():
    write("FuzzHiredisReplyReader", name, b"\x80" + text.encode())

print(f"seed corpus written under {os.path.relpath(ROOT)}", file=sys.stderr)
