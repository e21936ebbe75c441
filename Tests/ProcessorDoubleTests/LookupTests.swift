import NIOHTTP1
import ProcessorDouble
import Testing

/// `GET /charges/{key}`: the read-only lookup of the contract.
@Suite struct LookupTests {
    static let nothingCharged = #"{"code":"not_found","message":"nothing was charged under this key"}"#

    @Test func aChargedKeyIs200WithWhatWasCharged() async throws {
        try await withDouble { double in
            let charged = try await double.post(body: Fixture.body(amount: 5, currency: "JPY"))
            let chargeID = try #require(charged.string("charge_id"))
            let lookup = try await double.lookup(Fixture.key(1))
            #expect(lookup.status == 200)
            #expect(lookup.body == #"{"charge_id":"\#(chargeID)","amount_minor":5,"currency":"JPY","reference":"\#(Fixture.reference(1))"}"#)
            let ledger = double.snapshot()
            #expect(ledger.requests.lookups == 1)
            #expect(ledger.requests.total == 1, "a lookup is not counted as a POST")
            #expect(ledger.charges.count == 1)
        }
    }

    /// Unknown, and still unknown after the lookup: it neither charges nor reserves the key.
    @Test func aKeyNeverSeenIs404AndStaysNew() async throws {
        try await withDouble { double in
            let lookup = try await double.lookup(Fixture.key(9))
            #expect(lookup.status == 404)
            #expect(lookup.body == Self.nothingCharged)
            #expect(double.snapshot().charges.isEmpty)
            #expect(try await double.post(key: Fixture.key(9)).status == 201)
        }
    }

    @Test func aDeclinedKeyIs404() async throws {
        try await withDouble(.init(declineRate: 1)) { double in
            #expect(try await double.post().status == 402)
            let lookup = try await double.lookup()
            #expect(lookup.status == 404)
            #expect(lookup.body == Self.nothingCharged)
            #expect(try await double.post().status == 402, "the lookup did not undo the decline")
        }
    }

    @Test func aKeyForgottenAfterAFailureBeforeIs404() async throws {
        try await withDouble(.init(failBeforeRate: 1)) { double in
            #expect(try await double.post().status == 503)
            let lookup = try await double.lookup()
            #expect(lookup.status == 404)
            #expect(lookup.body == Self.nothingCharged)
        }
    }

    /// As `DeduplicationTests.aKeyInProgressIs409`: the first request is counted before the
    /// lookup is sent, and its 15 s latency is far longer than a local lookup takes.
    @Test func aKeyInProgressIs409ThenItsCharge() async throws {
        let latency = Duration.seconds(15)
        try await withDouble(.init(latency: latency)) { double in
            async let first = double.post(timeout: latency + .seconds(15))
            let admitted = try await double.ledger(waitingUntil: { $0.requests.total == 1 })
            #expect(admitted.requests.total == 1)
            let during = try await double.lookup()
            #expect(during.status == 409)
            #expect(during.string("code") == "in_progress")
            #expect(double.snapshot().charges.isEmpty)
            let charged = try await first
            #expect(charged.status == 201)
            let after = try await double.lookup()
            #expect(after.status == 200)
            #expect(after.string("charge_id") == charged.string("charge_id"))
        }
    }

    /// Sent raw: an URL type would refuse or re-encode most of these.
    @Test(arguments: [
        "/charges/", "/charges/%", "/charges/%4", "/charges/%zz", "/charges/a%2", "/charges/%20", "/charges/%00",
        "/charges/%7F", "/charges/%C3%A9", "/charges/" + String(repeating: "k", count: 256),
        "/charges/" + String(repeating: "k", count: 254) + "%41%41",
    ])
    func anInvalidKeyIs400(target: String) async throws {
        try await withDouble(.init(lookupFailRate: 1)) { double in
            let answer = try await double.rawGet(target).answer
            #expect(answer.status == 400, "the key is checked before the lookup fault is drawn")
            #expect(answer.string("code") == "invalid_request")
            #expect(double.snapshot().requests.lookups == 1)
            #expect(double.snapshot().requests.lookupsUnavailable == 0)
        }
    }

    /// The path is percent-decoded, so every key the double takes can be looked up; a `/`
    /// needs no encoding (the key is the rest of the path), a query is not part of it.
    @Test func aPercentEncodedKeyIsDecoded() async throws {
        try await withDouble { double in
            let key = "a/b?c%d#e"
            let charged = try await double.post(key: key)
            #expect(charged.status == 201)
            for target in ["/charges/a%2Fb%3Fc%25d%23e", "/charges/a/b%3fc%25d%23e?ignored=1", "/charges/%61%2f%62%3F%63%25%64%23%65"] {
                let lookup = try await double.rawGet(target).answer
                #expect(lookup.status == 200, "\(target)")
                #expect(lookup.string("charge_id") == charged.string("charge_id"), "\(target)")
            }
            let longest = String(repeating: "k", count: 255)
            #expect(try await double.post(key: longest, body: Fixture.body(reference: Fixture.reference(2))).status == 201)
            #expect(try await double.rawGet("/charges/" + String(repeating: "k", count: 253) + "%6B%6b").status == 200)
        }
    }

    @Test func aLookupNeedsTheTokenWhenOneIsSet() async throws {
        try await withDouble(.init(token: "s3cret-token")) { double in
            let missing = try await double.lookup()
            let wrong = try await double.lookup(token: "s3cret-tokem")
            #expect(missing.status == 401 && wrong.status == 401)
            #expect(missing.string("code") == "unauthorized")
            #expect(try await double.lookup(token: "s3cret-token").status == 404)
            #expect(try await double.post(token: "s3cret-token").status == 201)
            #expect(try await double.lookup().status == 401, "a charged key is no exception")
            #expect(try await double.lookup(token: "s3cret-token").status == 200)
            let requests = double.snapshot().requests
            #expect(requests.lookups == 5)
            #expect(requests.unauthorized == 0, "unauthorized counts POST /charges only")
        }
    }

    @Test func theLookupFaultIs503AndChangesNothing() async throws {
        try await withDouble(.init(lookupFailRate: 1)) { double in
            let charged = try await double.post()
            #expect(charged.status == 201)
            let lookup = try await double.lookup()
            #expect(lookup.status == 503)
            #expect(lookup.string("code") == "unavailable")
            #expect(try await double.lookup(Fixture.key(2)).status == 503, "whatever the key")
            #expect(try await double.post().status == 200, "the charge is still there")
            let ledger = double.snapshot()
            #expect(ledger.charges.count == 1)
            #expect(ledger.requests.lookups == 2)
            #expect(ledger.requests.lookupsUnavailable == 2)
        }
    }

    @Test func otherMethodsOnAKeyAre405() async throws {
        try await withDouble { double in
            let delete = try await double.send(method: .DELETE, path: "/charges/" + Fixture.key(1))
            let post = try await double.send(method: .POST, path: "/charges/" + Fixture.key(1))
            #expect(delete.status == 405 && post.status == 405)
            #expect(delete.headers["allow"] == ["GET"])
            #expect(try await double.send(method: .DELETE, path: "/charges").headers["allow"] == ["GET, POST"])
            #expect(double.snapshot().requests.lookups == 0)
        }
    }

    /// The broken processor keeps no key state: a lookup finds the first charge made
    /// under the key.
    @Test func ignoringIdempotencyKeysLooksUpTheFirstCharge() async throws {
        try await withDouble(.init(ignoreIdempotencyKeys: true)) { double in
            let first = try await double.post()
            #expect(try await double.post().status == 201)
            let lookup = try await double.lookup()
            #expect(lookup.status == 200)
            #expect(lookup.string("charge_id") == first.string("charge_id"))
            #expect(try await double.lookup(Fixture.key(2)).status == 404)
        }
    }
}
