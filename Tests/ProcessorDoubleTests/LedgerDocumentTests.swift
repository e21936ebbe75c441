import ProcessorDouble
import Testing

@Suite struct LedgerDocumentTests {
    @Test func getChargesHasTheContractsShape() async throws {
        try await withDouble(.init(declineRate: 0)) { double in
            let charged = try await double.post()
            #expect(charged.status == 201)
            _ = try await double.post()
            _ = try await double.post(key: nil)
            _ = try await double.lookup(Fixture.key(2))
            let chargeID = try #require(charged.string("charge_id"))
            let document = try await double.get("/charges")
            #expect(document.status == 200)
            let expected = #"{"charges":[{"charge_id":"\#(chargeID)","idempotency_key":"\#(Fixture.key(1))","reference":"\#(Fixture.reference(1))","amount_minor":1234,"currency":"USD","traceparent":null}],"declined":[],"#
                + #""requests":{"total":3,"charged":1,"replayed":1,"declined":0,"in_progress":0,"failed_before":0,"#
                + #""failed_after_charge":0,"dropped_after_charge":0,"slow":0,"unauthorized":0,"invalid":1,"reused":0,"#
                + #""stalled":0,"absurd_retry_after":0,"transient_4xx":0,"lookups":1,"lookups_unavailable":0}}"#
            #expect(document.body == expected)
            #expect(document.body == String(decoding: double.snapshot().json, as: UTF8.self))
        }
    }

    @Test func declinedKeysAreListed() async throws {
        try await withDouble(.init(declineRate: 1)) { double in
            _ = try await double.post(body: Fixture.body(amount: 5, currency: "JPY"))
            let document = try await double.get("/charges").body
            #expect(document.hasPrefix(#"{"charges":[],"declined":[{"idempotency_key":"\#(Fixture.key(1))","reference":"\#(Fixture.reference(1))","amount_minor":5,"currency":"JPY","code":"card_declined"}],"#))
        }
    }
}
