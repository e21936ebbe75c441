import Crypto

/// The request fingerprint stored with an idempotency record.
enum Fingerprint {
    /// SHA-256 over `user \n amount_minor \n currency`, lower-case hex. The separator
    /// cannot occur in any of the three values, so distinct requests never collide by
    /// concatenation.
    static func of(userID: UserID, amountMinor: Int64, currency: Currency) -> String {
        let canonical = "\(userID.value)\n\(amountMinor)\n\(currency.code)"
        return SHA256.hash(data: Array(canonical.utf8)).hexString
    }
}

extension Sequence<UInt8> {
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        for byte in self {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
