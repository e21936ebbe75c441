/// Stops the fuzzer with `message` when an invariant does not hold: libFuzzer reports
/// the trap as a crash ("deadly signal") and writes the input to a `crash-…` file.
///
/// Every target states what must be true of a parse that succeeded, so a wrong answer is
/// found as surely as a crash. Messages name the invariant; inputs are shown escaped.
@inline(never)
public func invariant(
    _ condition: @autoclosure () -> Bool,
    _ message: @autoclosure () -> String,
    file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition() {
        fatalError("invariant violated: \(message())", file: file, line: line)
    }
}

/// The bytes as a Swift string literal body: printable ASCII as is, the rest escaped, so
/// a failure message can be pasted into a test.
public func escaped(_ bytes: some Sequence<UInt8>) -> String {
    var text = ""
    for byte in bytes {
        switch byte {
        case UInt8(ascii: "\""): text += "\\\""
        case UInt8(ascii: "\\"): text += "\\\\"
        case 0x0A: text += "\\n"
        case 0x0D: text += "\\r"
        case 0x09: text += "\\t"
        case 0x20...0x7E: text.unicodeScalars.append(Unicode.Scalar(byte))
        default: text += "\\x\(String(byte, radix: 16, uppercase: true).leftPadded(to: 2))"
        }
    }
    return text
}

/// `escaped` of a string's UTF-8.
public func escaped(_ text: String) -> String { escaped(text.utf8) }

/// Byte-for-byte equality. Swift's `==` on strings is Unicode canonical equivalence
/// (`"\u{212A}" == "K"`), which would hide exactly the confusions these targets look for.
public func sameBytes(_ a: String, _ b: String) -> Bool {
    a.utf8.elementsEqual(b.utf8)
}

public func sameBytes(_ a: String?, _ b: String?) -> Bool {
    switch (a, b) {
    case (nil, nil): true
    case (let a?, let b?): sameBytes(a, b)
    default: false
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - utf8.count)) + self
    }
}
