import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PaymentAPI
import PaymentCore
import PaymentProcessors
import ProcessorDouble
import Testing

/// The processor as a hostile or careless one would be: a head then a stall, an absurd
/// `Retry-After`, a charge whose answer is lost and a client that never comes back, and
/// replicas missing before the charge.
extension HTTPProcessorTests {
    @Test func aProcessorThatSendsItsHeadAndStallsIsGivenUpAtTheDeadline() async throws {
        try await withProcessor(ProcessorDoubleSettings(stallRate: 1, stall: .seconds(25)), { configuration in
            configuration.processor?.timeout = .milliseconds(500)
        }) { client, double in
            let user = uniqueUser("http-stall")
            let start = ContinuousClock.now
            let first = try await client.pay(payBody(user: user))
            expectProblem(first, .serviceUnavailable, type: "outcome-unknown")
            #expect(ContinuousClock.now - start < .seconds(10), "one deadline covers head and body: not the 25 s stall")
            // The key is not held by the stalled attempt: the retry re-drives at once and
            // finds the charge the stalled answer was about.
            let retry = try await client.pay(payBody(user: user))
            #expect(retry.status == .ok, "\(retry.text)")
            #expect(ContinuousClock.now - start < .seconds(20))
            #expect(double.snapshot().charges.count == 1)
        }
    }

    @Test func anAbsurdRetryAfterIsClampedAndTheServerStaysUp() async throws {
        try await withProcessor(ProcessorDoubleSettings(absurdRetryAfterRate: 1)) { client, _ in
            // Retry-After: 9223372036854775807 overflows any arithmetic on it: it must not trap.
            for index in 0..<3 {
                let response = try await client.pay(payBody(user: uniqueUser("http-absurd"), key: "k-\(index)"))
                expectProblem(response, .conflict, type: "in-flight")
                #expect(response.headers[.retryAfter] == "1")
            }
            #expect(try await client.executeRequest(uri: "/healthz", method: .get, headers: [:], body: nil).status == .ok)
        }
    }

    @Test func theReconcilerRecordsAChargeWhoseClientNeverCameBack() async throws {
        try await withProcessor(ProcessorDoubleSettings(chargeThenFailRate: 1, chargeThenFail: .drop), { configuration in
            // A queue of its own: other tests' apps share the suite's Redis.
            configuration.keyPrefix = "reconcile-\(UInt32.random(in: 0...UInt32.max)):"
            // The ledger is read once while the payment is still unknown: the reconciler's
            // first look comes 3 s after it, not 100 ms, which one loopback request beside
            // every other suite and the fuzz build once outlasted in CI.
            configuration.reconcileDelay = .seconds(3)
            configuration.reconcileInterval = .milliseconds(100)
        }) { client, double in
            let user = uniqueUser("http-reconcile")
            let first = try await client.pay(payBody(user: user))
            expectProblem(first, .serviceUnavailable, type: "outcome-unknown", detailContains: "asks the processor by itself")
            let unknown = try await client.executeRequest(uri: "/ledger/\(user)", method: .get, headers: [:], body: nil).text
            #expect(unknown.contains(#""payments":0"#) && unknown.contains(#""unknown":[{"payment_id":"pay_"#), "\(unknown)")
            // The client never retries; the reconciler asks the processor and records it.
            var ledger = ""
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                ledger = try await client.executeRequest(uri: "/ledger/\(user)", method: .get, headers: [:], body: nil).text
                if ledger.contains(#""payments":1"#) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let chargeID = try #require(double.snapshot().charges.first?.chargeID)
            #expect(ledger.contains(#""charge_id":"\#(chargeID)""#), "\(ledger)")
            #expect(ledger.hasSuffix(#""unknown":[]}"#), "\(ledger)")
            #expect(double.snapshot().charges.count == 1, "the reconciler only looks")
            let later = try await client.pay(payBody(user: user))
            #expect(later.status == .ok)
            #expect(later.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(later.text.contains(chargeID))
            let metrics = try await client.executeRequest(uri: "/metrics", method: .get, headers: [:], body: nil).text
            #expect(metrics.contains(#"payment_reconcile_total{result="charged"} 1"#), "\(metrics)")
        }
    }

    @Test func withoutTheRequiredReplicasNothingReachesTheProcessor() async throws {
        try await withProcessor(ProcessorDoubleSettings(), { configuration in
            // The suite's redis-server has no replica.
            configuration.waitReplicas = 1
        }) { client, double in
            // Not ready because of the replicas once the first check has run.
            var readiness = try await client.waitForReadiness(.serviceUnavailable)
            let deadline = ContinuousClock.now + .seconds(10)
            while !readiness.text.contains("replicas"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                readiness = try await client.executeRequest(uri: "/readyz", method: .get, headers: [:], body: nil)
            }
            #expect(readiness.status == .serviceUnavailable)
            #expect(readiness.text.contains("replicas"), "\(readiness.text)")
            let response = try await client.pay(payBody(user: uniqueUser("http-no-replica")))
            expectProblem(response, .serviceUnavailable, type: "unavailable", detailContains: "refused before anything was read or charged")
            #expect(double.snapshot().requests.total == 0, "refused before the processor was asked")
        }
    }
}
