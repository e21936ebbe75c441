/// The `offset` and `limit` query parameters of `GET /ledger/{user_id}`, read into a
/// `ChargeWindow`. Pure, so that the rule is one function the API calls and the
/// FuzzLedgerWindow target checks; the HTTP layer only collects each name's values.
public enum ChargeWindowQuery {
    /// Each name's values as given (every occurrence, in order; an empty array when the
    /// name is absent, which takes the default). A name given more than once, or a value
    /// that is not all ASCII digits or is out of range (no sign, fraction, exponent or
    /// spaces), is refused: `offset` first, then `limit`.
    public static func window(
        offset offsetValues: [some StringProtocol],
        limit limitValues: [some StringProtocol]
    ) throws(ChargeWindowQueryError) -> ChargeWindow {
        let offset = try integer(.offset, offsetValues, default: 0)
        let limit = try integer(.limit, limitValues, default: ChargeWindow.defaultLimit)
        return ChargeWindow(offset: offset, limit: limit)
    }

    private static func integer(
        _ name: ChargeWindowQueryError.Name, _ values: [some StringProtocol], default value: Int
    ) throws(ChargeWindowQueryError) -> Int {
        guard let text = values.first else { return value }
        guard values.count == 1 else { throw ChargeWindowQueryError(name: name, repeated: true) }
        // Digits only, checked first: Int("+1") and Int("-0") would be accepted.
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let number = Int(text), name.range.contains(number)
        else { throw ChargeWindowQueryError(name: name, repeated: false) }
        return number
    }
}

/// Why `offset` or `limit` was refused; `description` is the 400 problem's `detail`.
public struct ChargeWindowQueryError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Name: String, Hashable, Sendable {
        case offset
        case limit

        /// The values allowed: any offset (a window past the end is empty), a limit that
        /// bounds one response.
        public var range: ClosedRange<Int> {
            switch self {
            case .offset: 0...Int.max
            case .limit: 1...ChargeWindow.maximumLimit
            }
        }
    }

    public let name: Name
    /// Given more than once (a value is not looked at then).
    public let repeated: Bool

    public init(name: Name, repeated: Bool) {
        self.name = name
        self.repeated = repeated
    }

    /// `"limit" must be an integer from 1 to 1000`, and `, given once` when repeated.
    public var description: String {
        let rule = "\"\(name.rawValue)\" must be an integer from \(name.range.lowerBound) to \(name.range.upperBound)"
        return repeated ? "\(rule), given once" : rule
    }
}
