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
    /// `pk_` (key version 1) or `pk<version>_`, and 64 hex digits: the `Idempotency-Key`
    /// sent to the processor.
    public let processorKey: String

    public init(for request: PaymentRequest, secret: PaymentIdentity.Secret) {
        self.init(for: UnknownPaymentReference(request), secret: secret)
    }

    /// The identity of the payment a record names (tenant, user, key), as `init(for:)`
    /// derives it for a request of that payment.
    public init(for payment: UnknownPaymentReference, secret: PaymentIdentity.Secret) {
        // A zero byte cannot occur in a tenant, user id or key (printable ASCII), so
        // distinct triples never give the same message.
        let message = Array("\(payment.tenant?.name ?? "")\u{0}\(payment.userID.value)\u{0}\(payment.idempotencyKey.value)".utf8)
        paymentID = "pay_" + Self.mac("payment-id", message, secret).prefix(16).hexString
        // Version 1 keeps the form keys had before versions existed, so an upgrade does
        // not change the key of a payment already at the processor.
        let prefix = secret.version == 1 ? "pk_" : "pk\(secret.version)_"
        processorKey = prefix + Self.mac("processor-key", message, secret).hexString
    }

    /// The identity an earlier attempt used, as stored with an unknown outcome: a retry
    /// or the reconciler asks the processor under the key it was first sent with, even
    /// after the secret was rotated.
    public init(paymentID: String, processorKey: String) {
        self.paymentID = paymentID
        self.processorKey = processorKey
    }

    /// True for text of the form `paymentID` has: `pay_` and 32 lower-case hex digits.
    /// What a lookup by payment id accepts; anything else cannot name a payment.
    public static func isPaymentID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 36 && bytes.starts(with: Array("pay_".utf8)) && bytes.dropFirst(4).allSatisfy { byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
        }
    }

    private static func mac(_ purpose: String, _ message: [UInt8], _ secret: Secret) -> [UInt8] {
        // A copy of the keyed HMAC: the key's inner and outer pads are hashed once, when
        // the secret is made, not for every payment.
        var hmac = secret.keyed
        hmac.update(data: Array(purpose.utf8) + [0] + message)
        return Array(hmac.finalize())
    }

    /// The HMAC key. Its bytes never appear in a description.
    public struct Secret: Sendable, Hashable, CustomStringConvertible {
        let key: SymmetricKey
        /// An HMAC keyed with `key` with nothing hashed yet: copied for each MAC.
        let keyed: HMAC<SHA256>
        /// `PROCESSOR_KEY_VERSION`: named in every processor key, so keys made under
        /// another secret are told apart at a glance (docs/processor.md: rotation).
        public let version: Int

        /// The key of `PROCESSOR_KEY_SECRET_FILE`'s bytes.
        public init(bytes: [UInt8], version: Int = 1) {
            key = SymmetricKey(data: bytes)
            keyed = HMAC<SHA256>(key: key)
            self.version = version
        }

        /// No secret configured: a fixed, public label. Only for the in-process simulated
        /// processor: with `PROCESSOR_URL` set, start-up requires a secret, since two
        /// deployments with this label on one processor account would share keys.
        public static let unset = Secret(bytes: Array("payment-api processor identity v1".utf8))

        public var description: String { "PaymentIdentity.Secret(version \(version), …)" }

        public static func == (lhs: Secret, rhs: Secret) -> Bool {
            lhs.version == rhs.version && lhs.key.withUnsafeBytes { a in rhs.key.withUnsafeBytes { b in a.elementsEqual(b) } }
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(version)
            key.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
}
