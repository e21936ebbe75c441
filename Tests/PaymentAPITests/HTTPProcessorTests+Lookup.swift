import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PaymentCore
import ProcessorDouble
import Testing

/// `GET /payments/{payment_id}` for the answers only a processor gives: a decline, a
/// charge with the processor's id, and an outcome the processor did not say.
extension HTTPProcessorTests {
    @Test func aDeclinedPaymentIsFoundWithTheProblemAReplayReturns() async throws {
        try await withProcessor(ProcessorDoubleSettings(declineRate: 1)) { client, _ in
            let user = uniqueUser("lookup-declined")
            let first = try await client.pay(payBody(user: user))
            #expect(first.status.code == 402, "\(first.text)")
            let paymentID = try identity(user: user).paymentID
            let found = try await client.executeRequest(uri: "/payments/\(paymentID)", method: .get, headers: [:], body: nil)
            #expect(found.status == .ok, "\(found.text)")
            expectLookup(found.text, paymentID: paymentID, status: "declined", amountMinor: 10_000, currency: "USD", chargeID: nil)
            let replay = try await client.pay(payBody(user: user))
            #expect(found.text.hasSuffix(#","receipt":"# + replay.text + "}"), "the decline a replay returns, byte for byte: \(found.text)")
        }
    }

    /// The 503 carries the payment id; that id is found as unknown at once, and once the
    /// retry charged it, as charged with the processor's charge id.
    @Test func anUnknownOutcomeIsFoundByTheIDIts503CarriesAndThenCharged() async throws {
        try await withProcessor(ProcessorDoubleSettings(chargeThenFailRate: 1, chargeThenFail: .status500)) { client, double in
            let user = uniqueUser("lookup-unknown")
            let first = try await client.pay(payBody(user: user))
            expectProblem(first, .serviceUnavailable, type: "outcome-unknown")
            let paymentID = try #require(member("payment_id", of: first))
            let unknown = try await client.executeRequest(uri: "/payments/\(paymentID)", method: .get, headers: [:], body: nil)
            #expect(unknown.status == .ok, "\(unknown.text)")
            expectLookup(unknown.text, paymentID: paymentID, status: "unknown", amountMinor: 10_000, currency: "USD", chargeID: nil)
            #expect(unknown.text.hasSuffix(#","receipt":null}"#))

            let retry = try await client.pay(payBody(user: user))
            #expect(retry.status == .ok, "\(retry.text)")
            let chargeID = try #require(double.snapshot().charges.first?.chargeID)
            let charged = try await client.executeRequest(uri: "/payments/\(paymentID)", method: .get, headers: [:], body: nil)
            expectLookup(charged.text, paymentID: paymentID, status: "charged", amountMinor: 10_000, currency: "USD", chargeID: chargeID)
            #expect(charged.text.hasSuffix(#","receipt":"# + retry.text + "}"))
            #expect(lookupMember("created_at", of: charged.text) == lookupMember("created_at", of: unknown.text), "created by the first attempt")
        }
    }
}
