import NIOHTTP1
import ProcessorDouble
import Testing

@Suite struct RequestValidationTests {
    @Test func aTokenIsRequiredWhenSet() async throws {
        try await withDouble(.init(token: "s3cret-token")) { double in
            let missing = try await double.post()
            let wrong = try await double.post(token: "s3cret-tokem")
            let longer = try await double.post(token: "s3cret-token2")
            #expect(missing.status == 401 && wrong.status == 401 && longer.status == 401)
            #expect(missing.string("code") == "unauthorized")
            #expect(double.snapshot().charges.isEmpty)
            #expect(try await double.post(token: "s3cret-token").status == 201)
            #expect(double.snapshot().requests.unauthorized == 3)
        }
    }

    static let invalidBodies: [String] = [
        "",
        "not json",
        "[]",
        #"{"amount_minor": 1234, "currency": "USD"}"#,
        #"{"currency": "USD", "reference": "\#(Fixture.reference(1))"}"#,
        #"{"amount_minor": 1234, "reference": "\#(Fixture.reference(1))"}"#,
        Fixture.body(amount: 0),
        Fixture.body(amount: -5),
        #"{"amount_minor": 12.5, "currency": "USD", "reference": "\#(Fixture.reference(1))"}"#,
        #"{"amount_minor": 1e3, "currency": "USD", "reference": "\#(Fixture.reference(1))"}"#,
        #"{"amount_minor": "1234", "currency": "USD", "reference": "\#(Fixture.reference(1))"}"#,
        Fixture.body(amount: 100_000_001),  // above 1,000,000.00 USD
        Fixture.body(currency: "usd"),
        Fixture.body(currency: "XYZ"),
        Fixture.body(reference: "pay_123"),
        Fixture.body(reference: "pay_" + String(repeating: "A", count: 32)),
        Fixture.body(reference: "ref_" + String(repeating: "a", count: 32)),
        #"{"amount_minor": 1234, "currency": "USD", "reference": "\#(Fixture.reference(1))", "extra": 1}"#,
        #"{"amount_minor": 1234, "amount_minor": 1234, "currency": "USD"}"#,
    ]

    @Test(arguments: invalidBodies)
    func anInvalidBodyIs400(body: String) async throws {
        try await withDouble { double in
            let answer = try await double.post(body: body)
            #expect(answer.status == 400)
            #expect(answer.string("code") == "invalid_request")
            #expect(answer.string("message")?.isEmpty == false)
            #expect(double.snapshot().charges.isEmpty)
            #expect(double.snapshot().requests.invalid == 1)
        }
    }

    /// The message names what is wrong (the member limit alone would refuse a fourth member).
    @Test func theMessageSaysWhatIsWrong() async throws {
        try await withDouble { double in
            let unknown = try await double.post(body: #"{"amount_minor": 1234, "currency": "USD", "extra": 1}"#)
            let missing = try await double.post(body: #"{"amount_minor": 1234, "currency": "USD"}"#)
            #expect(unknown.status == 400 && unknown.string("message") == #"unknown member "extra""#)
            #expect(missing.status == 400 && missing.string("message") == "reference is missing")
        }
    }

    @Test(arguments: [nil, "", "key with spaces", String(repeating: "k", count: 256), "k\u{e9}y"])
    func anInvalidIdempotencyKeyIs400(key: String?) async throws {
        try await withDouble { double in
            let answer = try await double.post(key: key)
            #expect(answer.status == 400)
            #expect(double.snapshot().charges.isEmpty)
        }
    }

    @Test func anyVisibleASCIIKeyUpTo255IsAccepted() async throws {
        try await withDouble { double in
            let longest = try await double.post(key: String(repeating: "k", count: 255))
            let punctuation = try await double.post(key: "a~!", body: Fixture.body(reference: Fixture.reference(2)))
            #expect(longest.status == 201 && punctuation.status == 201)
        }
    }

    /// `application/json` then a GREEK QUESTION MARK, which Swift's `==` on characters
    /// takes for `;` (FuzzChargeRequest's finding).
    @Test(arguments: [nil, "text/plain", "application/jsonx", "application/json\u{037E}", "application/json\u{037E} charset=utf-8"])
    func aBodyThatIsNotDeclaredJSONIs400(contentType: String?) async throws {
        try await withDouble { double in
            let answer = try await double.post(contentType: contentType)
            #expect(answer.status == 400)
        }
    }

    /// The type is what comes before the first `;` byte, whatever follows it (a combining
    /// mark after the `;` made it one character with it, and the type was refused).
    @Test(arguments: ["Application/JSON; charset=utf-8", "application/json;\u{301}charset=utf-8", " \tapplication/json \t;x"])
    func aContentTypeWithParametersIsJSON(contentType: String) async throws {
        try await withDouble { double in
            let answer = try await double.post(contentType: contentType)
            #expect(answer.status == 201)
        }
    }

    @Test func aBodyOver64KiBIs413() async throws {
        try await withDouble { double in
            let padding = String(repeating: " ", count: 64 * 1024)
            let answer = try await double.post(body: Fixture.body() + padding)
            #expect(answer.status == 413)
            #expect(double.snapshot().charges.isEmpty)
            #expect(double.snapshot().requests.invalid == 1)
        }
    }

    @Test func unknownPathsAre404AndOtherMethods405() async throws {
        try await withDouble { double in
            let unknown = try await double.get("/nope")
            let health = try await double.get("/healthz")
            let deleteCharges = try await double.send(method: .DELETE, path: "/charges")
            #expect(unknown.status == 404)
            #expect(health.status == 200 && health.body == "ok")
            #expect(deleteCharges.status == 405)
        }
    }

    @Test func settingsOutOfRangeAreRefused() async throws {
        #expect(throws: ProcessorDoubleSettingsError.self) { try ProcessorDoubleSettings(declineRate: 1.5).validate() }
        #expect(throws: ProcessorDoubleSettingsError.self) { try ProcessorDoubleSettings(failBeforeRate: -0.1).validate() }
        #expect(throws: ProcessorDoubleSettingsError.self) { try ProcessorDoubleSettings(token: "two words").validate() }
        #expect(throws: ProcessorDoubleSettingsError.self) { try ProcessorDoubleSettings(port: 70_000).validate() }
        #expect(throws: ProcessorDoubleSettingsError.self) { try ProcessorDoubleSettings(stallRate: 1.01).validate() }
        #expect(throws: ProcessorDoubleSettingsError.self) { try ProcessorDoubleSettings(stall: .milliseconds(-1)).validate() }
        #expect(throws: ProcessorDoubleSettingsError.self) { try ProcessorDoubleSettings(absurdRetryAfterRate: -0.5).validate() }
        #expect(throws: ProcessorDoubleSettingsError.self) { try ProcessorDoubleSettings(transient4xxRate: 2).validate() }
        #expect(throws: ProcessorDoubleSettingsError.self) { try ProcessorDoubleSettings(lookupFailRate: .nan).validate() }
        #expect(throws: Never.self) {
            try ProcessorDoubleSettings(stallRate: 1, stall: .zero, absurdRetryAfterRate: 1, transient4xxRate: 1, lookupFailRate: 1).validate()
        }
        await #expect(throws: ProcessorDoubleSettingsError.self) {
            _ = try await ProcessorDouble.start(.init(slowRate: 2), logger: Fixture.logger)
        }
        #expect(throws: Never.self) { try ProcessorDoubleSettings().validate() }
    }
}
