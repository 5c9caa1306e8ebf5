"""Reads delivered mail files with Python's email package under policy.strict, a MIME parser Postroom does
not use for composing, and prints one JSON object per file: its headers, its leaf parts, and every defect
the parser found (policy.strict raises on the first one; the walk below collects the rest).

Usage: python3 read-mail.py FILE... (the Postfix test peer runs it on Maildir files)
"""

import json
import sys
from email import policy
from email.parser import BytesParser


def describe(defect):
    return f"{type(defect).__name__}: {defect}"


def read(path):
    with open(path, "rb") as handle:
        data = handle.read()
    result = {"path": path, "defects": [], "headers": [], "parts": []}
    try:
        message = BytesParser(policy=policy.strict).parsebytes(data)
        for part in message.walk():
            result["defects"] += [describe(d) for d in part.defects]
            for name, value in part.items():
                result["defects"] += [f"{name}: {describe(d)}" for d in getattr(value, "defects", ())]
        result["headers"] = [[name, str(value)] for name, value in message.items()]
        for part in message.walk():
            if part.is_multipart():
                continue
            content = part.get_content()
            entry = {
                "contentType": part.get_content_type(),
                "filename": part.get_filename(),
            }
            if isinstance(content, str):
                entry["text"] = content
            else:
                entry["size"] = len(content)
            result["parts"].append(entry)
    except Exception as error:  # policy.strict raises MessageDefect subclasses, and header errors
        result["defects"].append(describe(error))
    # Lines longer than RFC 5322's 998 characters, and bare CR or LF, are defects the parser lets pass.
    for number, line in enumerate(data.replace(b"\r\n", b"\n").split(b"\n")):
        if len(line) > 998:
            result["defects"].append(f"line {number + 1} is {len(line)} octets long")
    return result


if __name__ == "__main__":
    print(json.dumps([read(path) for path in sys.argv[1:]]))
