@testable import PaymentAPI
import PaymentCore
import Testing

/// What each answer of a processor means for the payment, answer by answer.
@Suite struct ProcessorAnswerTests {
    func interpret(_ status: Int, _ body: String, retryAfter: Int? = nil) -> ProcessorResult {
        HTTPPaymentProcessor.interpret(status: status, body: Array(body.utf8), retryAfterSeconds: retryAfter).1
    }

    @Test func onlyA2xxWithAChargeIDIsACharge() {
        #expect(interpret(201, #"{"charge_id":"ch_1"}"#) == .charged(chargeID: "ch_1"))
        #expect(interpret(200, #"{"charge_id":"ch_1","extra":1}"#) == .charged(chargeID: "ch_1"))
        for body in ["", "{}", #"{"charge_id":""}"#, #"{"charge_id":7}"#, "not json"] {
            guard case .unknown = interpret(200, body) else {
                Issue.record("a 200 with \(body) must be an unknown outcome")
                continue
            }
        }
    }

    @Test func a402WithACodeIsADecline() {
        #expect(interpret(402, #"{"code":"card_declined","message":"no funds"}"#) == .declined(code: "card_declined", message: "no funds"))
        #expect(interpret(402, #"{"code":"do_not_honor"}"#) == .declined(code: "do_not_honor", message: "declined"))
        guard case .unknown = interpret(402, "{}") else {
            Issue.record("a 402 without a code is not the contract's")
            return
        }
    }

    @Test func a409IsBusyForItsRetryAfter() {
        #expect(interpret(409, "{}", retryAfter: 3) == .busy(retryAfterMilliseconds: 3_000))
        #expect(interpret(409, "{}") == .busy(retryAfterMilliseconds: 1_000))
    }

    @Test func another4xxChargedNothingAnd5xxMayHave() {
        for status in [400, 401, 403, 404, 422] {
            guard case .failed = interpret(status, #"{"code":"x"}"#) else {
                Issue.record("\(status) refused the request: nothing was charged")
                continue
            }
        }
        for status in [500, 502, 503, 504, 302] {
            guard case .unknown = interpret(status, "") else {
                Issue.record("\(status) leaves the outcome unknown")
                continue
            }
        }
    }
}
