/// Every byte outside RFC 3986's unreserved set as `%XX`, the hex digits in either case.
public func percentEncoded(_ text: String, uppercase: Bool = true) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = String(byte, radix: 16, uppercase: uppercase)
            out += "%" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    return out
}
