public import Foundation

// Dates are formatted and parsed by hand: Foundation's formatters cost microseconds
// per value, and the session always uses ISO output (DateStyle is set at connect).

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
@inline(__always)
func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let monthIndex = month > 2 ? month - 3 : month + 9
    let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
}

/// The proleptic Gregorian date of a day number since 1970-01-01.
@inline(__always)
func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    return (year, month, day)
}

@inline(__always)
private func writePadded(_ value: Int, width: Int, into writer: inout PostgresTextWriter) {
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0)
    withUnsafeMutableBytes(of: &digits) { buffer in
        var remaining = value
        for index in stride(from: width - 1, through: 0, by: -1) {
            buffer[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
        }
        writer.write(bytes: buffer.prefix(width))
    }
}

extension Date: PostgresCodable {
    /// `timestamptz`
    public static var postgresDataType: PostgresDataType { .timestamptz }

    /// Writes `YYYY-MM-DD HH:MM:SS.ffffff+00` (UTC, microseconds, Postgres's precision).
    public func encode(into writer: inout PostgresTextWriter) {
        let seconds = timeIntervalSince1970
        guard seconds.isFinite, abs(seconds) < 200_000_000_000 else {
            writer.fail("the date \(seconds) s since 1970 is outside Postgres's range")
            return
        }
        let micros = Int((seconds * 1_000_000).rounded())
        var days = micros / 86_400_000_000
        var microsOfDay = micros % 86_400_000_000
        if microsOfDay < 0 {
            microsOfDay += 86_400_000_000
            days -= 1
        }
        let (year, month, day) = civilFromDays(days)
        let bc = year <= 0
        writePadded(bc ? 1 - year : year, width: 4, into: &writer)
        writer.write(byte: UInt8(ascii: "-"))
        writePadded(month, width: 2, into: &writer)
        writer.write(byte: UInt8(ascii: "-"))
        writePadded(day, width: 2, into: &writer)
        writer.write(byte: UInt8(ascii: " "))
        let secondsOfDay = microsOfDay / 1_000_000
        writePadded(secondsOfDay / 3600, width: 2, into: &writer)
        writer.write(byte: UInt8(ascii: ":"))
        writePadded(secondsOfDay / 60 % 60, width: 2, into: &writer)
        writer.write(byte: UInt8(ascii: ":"))
        writePadded(secondsOfDay % 60, width: 2, into: &writer)
        writer.write(byte: UInt8(ascii: "."))
        writePadded(microsOfDay % 1_000_000, width: 6, into: &writer)
        writer.write("+00")
        if bc { writer.write(" BC") }
    }

    /// Decodes `timestamptz`, `timestamp` (read as UTC) and `date` (midnight UTC).
    ///
    /// `infinity` and `-infinity` become `Date.distantFuture` and `Date.distantPast`.
    public static func decode(from cell: PostgresCell) throws -> Date {
        let bytes = try cell.requireBytes(for: Date.self)
        guard cell.dataType == .timestamptz || cell.dataType == .timestamp || cell.dataType == .date else {
            throw cell.decodingError(Date.self, reason: "expected timestamptz, timestamp or date")
        }
        if bytes.elementsEqual("infinity".utf8) { return .distantFuture }
        if bytes.elementsEqual("-infinity".utf8) { return .distantPast }
        guard let micros = parseTimestamp(bytes) else {
            throw cell.decodingError(Date.self, reason: "not an ISO timestamp (is DateStyle ISO?)")
        }
        return Date(timeIntervalSince1970: Double(micros) / 1_000_000)
    }
}

/// Parses ISO `YYYY-MM-DD[ HH:MM:SS[.ffffff]][±HH[:MM[:SS]]][ BC]` into microseconds since 1970 UTC.
func parseTimestamp(_ bytes: UnsafeRawBufferPointer) -> Int? {
    var index = 0
    let count = bytes.count

    func number(maxDigits: Int) -> (value: Int, digits: Int)? {
        var value = 0
        var digits = 0
        while index < count, digits < maxDigits {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { break }
            value = value * 10 + Int(digit)
            digits += 1
            index += 1
        }
        return digits == 0 ? nil : (value, digits)
    }
    func expect(_ character: UInt8) -> Bool {
        guard index < count, bytes[index] == character else { return false }
        index += 1
        return true
    }

    guard var year = number(maxDigits: 7)?.value, expect(UInt8(ascii: "-")),
          let month = number(maxDigits: 2)?.value, expect(UInt8(ascii: "-")),
          let day = number(maxDigits: 2)?.value else { return nil }
    var microsOfDay = 0
    var offsetSeconds = 0
    if expect(UInt8(ascii: " ")) || expect(UInt8(ascii: "T")) {
        if index < count, bytes[index] == UInt8(ascii: "B") {
            index -= 1  // " BC" right after a date
        } else {
            guard let hour = number(maxDigits: 2)?.value, expect(UInt8(ascii: ":")),
                  let minute = number(maxDigits: 2)?.value, expect(UInt8(ascii: ":")),
                  let second = number(maxDigits: 2)?.value else { return nil }
            microsOfDay = ((hour * 60 + minute) * 60 + second) * 1_000_000
            if expect(UInt8(ascii: ".")) {
                guard let fraction = number(maxDigits: 6) else { return nil }
                var scaled = fraction.value
                for _ in fraction.digits..<6 { scaled *= 10 }
                microsOfDay += scaled
            }
            if index < count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
                index += 1
                guard let hours = number(maxDigits: 2)?.value else { return nil }
                var offset = hours * 3600
                if expect(UInt8(ascii: ":")) {
                    guard let minutes = number(maxDigits: 2)?.value else { return nil }
                    offset += minutes * 60
                    if expect(UInt8(ascii: ":")) {
                        guard let seconds = number(maxDigits: 2)?.value else { return nil }
                        offset += seconds
                    }
                }
                offsetSeconds = sign * offset
            }
        }
    }
    if expect(UInt8(ascii: " ")) {
        guard expect(UInt8(ascii: "B")), expect(UInt8(ascii: "C")) else { return nil }
        year = 1 - year
    }
    guard index == count, (1...12).contains(month), (1...31).contains(day) else { return nil }
    let days = daysFromCivil(year: year, month: month, day: day)
    return days * 86_400_000_000 + microsOfDay - offsetSeconds * 1_000_000
}
