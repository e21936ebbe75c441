import StrictJSON
import Testing

@Suite("JSON parser: member limits and duplicates in large objects")
struct JSONParserMemberTests {
    private func object(_ count: Int, duplicateAt duplicate: Int? = nil) -> [UInt8] {
        let names = (0..<count).map { index in index == duplicate ? "m0" : "m\(index)" }
        return Array(("{" + names.map { #""\#($0)":\#(0)"# }.joined(separator: ",") + "}").utf8)
    }

    @Test(arguments: [1, 8, 9, 20, 999])
    func duplicatesAreFoundWhereverTheyAre(position: Int) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(object(1_000, duplicateAt: position)) }
    }

    @Test func distinctMembersOfALargeObjectAreKept() throws {
        guard case .object(let members) = try JSONParser.parse(object(1_000)) else {
            Issue.record("expected an object")
            return
        }
        #expect(members.count == 1_000)
        #expect(members.last?.key == "m999")
    }

    @Test func theMemberLimitAppliesToEveryObject() throws {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(object(5), maximumMembers: 4) }
        #expect(throws: JSONParseError.self) {
            try JSONParser.parse(Array(#"{"a":{"b":1,"c":2,"d":3}}"#.utf8), maximumMembers: 2)
        }
        _ = try JSONParser.parse(object(4), maximumMembers: 4)
    }
}
