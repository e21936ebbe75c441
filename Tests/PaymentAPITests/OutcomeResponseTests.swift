import HTTPTypes
import Hummingbird
import NIOCore
@testable import PaymentAPI
import PaymentCore
import Testing

/// What each outcome tells the client, read from the one place that maps outcomes to
/// responses: no answer claims more than the service knows.
@Suite("payment outcomes as responses")
struct OutcomeResponseTests {
    private func answer(_ outcome: PaymentOutcome) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, body: String) {
        let answer = PaymentResponses.answer(for: outcome, requestID: "req-1")
        return (answer.status, answer.headers, String(buffer: answer.body))
    }

    @Test(arguments: [
        UnknownOutcome.Cause.recordUnconfirmed("redis timeout error"),
        .notReplicated(ReplicaShortfall(acknowledged: 0, required: 1)),
        .processor("the processor answered 502", recorded: true),
        .processor("the processor refused the request with 401; an earlier attempt's outcome is still unknown", recorded: false),
    ])
    func anUnknownOutcomeNeverClaimsNothingWasCharged(cause: UnknownOutcome.Cause) async throws {
        let (status, headers, body) = try await answer(.outcomeUnknown(UnknownOutcome(cause, paymentID: "pay_0123")))
        #expect(status == .serviceUnavailable)
        #expect(headers[.contentType] == "application/problem+json")
        #expect(body.contains(#""type":"/problems/outcome-unknown""#), "\(body)")
        #expect(headers[.retryAfter] != nil)
        #expect(!body.contains("nothing was charged"))
        #expect(!body.contains("charged nothing"))
        #expect(body.contains("same idempotency key"))
        #expect(body.contains(#""payment_id":"pay_0123""#))
        #expect(body.contains(#""request_id":"req-1""#))
    }

    @Test func aFailedReleaseIsNotCalledAReleasedKey() async throws {
        for (released, expected) in [(true, "the key was released"), (false, "could not be released")] {
            let (status, _, body) = try await answer(.processorFailed("declined by chance", keyReleased: released))
            #expect(status == .internalServerError)
            #expect(body.contains(expected), "\(body)")
        }
    }

    @Test func aReplayIsTheStoredAnswerMarkedReplayed() async throws {
        let stored = StoredResponse(status: 200, body: Array(#"{"status":"succeeded"}"#.utf8))
        let (status, headers, body) = try await answer(.replayed(stored, rateLimit: nil))
        #expect(status == .ok)
        #expect(headers[.init("Idempotent-Replayed")!] == "true")
        #expect(body == #"{"status":"succeeded"}"#)
    }

    @Test func inFlightIs409WithARetryAfterOfAtMostOneSecond() async throws {
        let (status, headers, body) = try await answer(.inFlight(retryAfterMilliseconds: 9_000))
        #expect(status == .conflict)
        #expect(headers[.retryAfter] == "1")
        #expect(body.contains(#""type":"/problems/in-flight""#))
    }
}
