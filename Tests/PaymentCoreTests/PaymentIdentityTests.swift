import PaymentCore
import Testing

/// The payment id and processor key: the same for every attempt of one (tenant, user,
/// key), different for any other, and telling nothing of the three.
@Suite struct PaymentIdentityTests {
    func payment(user: String = "alice", key: String = "order-1", amount: Int64 = 1_000, tenant: String? = nil) throws -> PaymentRequest {
        PaymentRequest(
            userID: try UserID(user), amountMinor: amount, currency: try #require(Currency(code: "USD")),
            idempotencyKey: try IdempotencyKey(key), tenant: tenant.flatMap(Tenant.init)
        )
    }

    @Test func theSamePaymentHasTheSameNamesEveryTime() throws {
        let first = PaymentIdentity(for: try payment(), secret: .unset)
        let again = PaymentIdentity(for: try payment(), secret: .unset)
        #expect(first == again)
        // The amount is not part of it: the key names the payment, the fingerprint its content.
        #expect(PaymentIdentity(for: try payment(amount: 5), secret: .unset) == first)
    }

    @Test func theNamesHaveTheirFormats() throws {
        let identity = PaymentIdentity(for: try payment(), secret: .unset)
        let hex = Set("0123456789abcdef")
        #expect(identity.paymentID.hasPrefix("pay_") && identity.paymentID.count == 4 + 32)
        #expect(identity.processorKey.hasPrefix("pk_") && identity.processorKey.count == 3 + 64)
        #expect(identity.paymentID.dropFirst(4).allSatisfy(hex.contains))
        #expect(identity.processorKey.dropFirst(3).allSatisfy(hex.contains))
        #expect(identity.paymentID.dropFirst(4) != identity.processorKey.dropFirst(3).prefix(32))
    }

    @Test func anotherTenantUserOrKeyIsAnotherPayment() throws {
        let base = PaymentIdentity(for: try payment(), secret: .unset)
        let others = [
            try payment(user: "bob"), try payment(key: "order-2"), try payment(tenant: "acme"),
            // The separator keeps ("a", "b:c") and ("a:b", "c") apart.
            try payment(user: "alice:order", key: "1"),
        ].map { PaymentIdentity(for: $0, secret: .unset) }
        for other in others {
            #expect(other.paymentID != base.paymentID)
            #expect(other.processorKey != base.processorKey)
        }
    }

    @Test func theSecretChangesTheNamesAndIsNeverPrinted() throws {
        let secret = PaymentIdentity.Secret(bytes: Array("a secret of thirty-two bytes....".utf8))
        let keyed = PaymentIdentity(for: try payment(), secret: secret)
        #expect(keyed != PaymentIdentity(for: try payment(), secret: .unset))
        #expect(!"\(secret)".contains("secret of"))
    }

    @Test func theNamesDoNotContainTheUserOrTheKey() throws {
        let identity = PaymentIdentity(for: try payment(user: "deadbeef", key: "cafe"), secret: .unset)
        for name in [identity.paymentID, identity.processorKey] {
            #expect(!name.contains("deadbeef") && !name.contains("cafe"))
        }
    }

    @Test func theKeyVersionIsNamedInTheKeyAndVersionOneKeepsTheOldForm() throws {
        let bytes = Array("a secret of thirty-two bytes....".utf8)
        let first = PaymentIdentity(for: try payment(), secret: PaymentIdentity.Secret(bytes: bytes))
        let second = PaymentIdentity(for: try payment(), secret: PaymentIdentity.Secret(bytes: bytes, version: 2))
        #expect(first.processorKey.hasPrefix("pk_"))
        #expect(second.processorKey.hasPrefix("pk2_"))
        #expect(first.processorKey.dropFirst(3) == second.processorKey.dropFirst(4), "the version names the secret; it does not change the HMAC")
        #expect(first.paymentID == second.paymentID)
        #expect(PaymentIdentity.Secret(bytes: bytes) != PaymentIdentity.Secret(bytes: bytes, version: 2))
    }
}
