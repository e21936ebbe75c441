/// The token `POST /charges` requires, compared in time that depends on the lengths
/// only, never on where a guess first differs.
struct BearerToken: Sendable, Hashable {
    private let bytes: [UInt8]

    init(_ token: String) {
        bytes = Array(token.utf8)
    }

    /// True for exactly one `Authorization: Bearer <token>` line (scheme in any case).
    func accepts(_ headerValues: [String]) -> Bool {
        guard headerValues.count == 1, let value = headerValues.first else { return false }
        let utf8 = Array(value.utf8)
        let scheme = Array("bearer ".utf8)
        let lowered = utf8.prefix(scheme.count).map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }
        guard utf8.count > scheme.count, lowered == scheme else { return false }
        return Self.constantTimeEqual(Array(utf8[scheme.count...]), bytes)
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
