import Crypto

/// The names one logical payment carries outside our Redis: the payment id of its
/// receipt and ledger entry (the processor's `reference`) and the processor's
/// idempotency key.
///
/// Both are derived from (tenant, user, idempotency key) alone, so every attempt of that
/// payment — retries, lease takeovers, other replicas, restarts — sends the processor the
/// same key, and a processor that deduplicates by it charges once whatever happens to our
/// side. They are HMAC-SHA256 under `secret` (`PROCESSOR_KEY_SECRET_FILE`, the same on
/// every replica), so they reveal neither the user id nor the client's key; without a
/// secret the HMAC key is a fixed label and they still hide both from anyone who cannot
/// guess them.
public struct PaymentIdentity: Sendable, Hashable {
    /// `pay_` and 32 hex digits: the receipt's `payment_id`, the processor's `reference`.
    public let paymentID: String
    /// `pk_` and 64 hex digits: the `Idempotency-Key` sent to the processor.
    public let processorKey: String

    public init(for request: PaymentRequest, secret: PaymentIdentity.Secret) {
        // A zero byte cannot occur in a tenant, user id or key (printable ASCII), so
        // distinct triples never give the same message.
        let message = Array("\(request.tenant?.name ?? "")\u{0}\(request.userID.value)\u{0}\(request.idempotencyKey.value)".utf8)
        paymentID = "pay_" + Self.mac("payment-id", message, secret).prefix(16).hexString
        processorKey = "pk_" + Self.mac("processor-key", message, secret).hexString
    }

    private static func mac(_ purpose: String, _ message: [UInt8], _ secret: Secret) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(purpose.utf8) + [0] + message, using: secret.key))
    }

    /// The HMAC key. Its bytes never appear in a description.
    public struct Secret: Sendable, Hashable, CustomStringConvertible {
        let key: SymmetricKey

        /// The key of `PROCESSOR_KEY_SECRET_FILE`'s bytes.
        public init(bytes: [UInt8]) { key = SymmetricKey(data: bytes) }

        /// No secret configured: a fixed, public label.
        public static let unset = Secret(bytes: Array("payment-api processor identity v1".utf8))

        public var description: String { "PaymentIdentity.Secret(…)" }

        public static func == (lhs: Secret, rhs: Secret) -> Bool {
            lhs.key.withUnsafeBytes { a in rhs.key.withUnsafeBytes { b in a.elementsEqual(b) } }
        }

        public func hash(into hasher: inout Hasher) {
            key.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
}
