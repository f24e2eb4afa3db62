import Foundation

/// Splits a schema script into its statements: PostgreSQL's extended protocol, which
/// postgres-nio speaks, takes one statement per message. A `;` inside a quoted string, a `--`
/// comment or a `$$` function body does not end a statement.
enum SQLScript {
    static func statements(_ script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var inQuote = false
        var inDollar = false
        var inComment = false
        var previous: Character = " "
        for character in script {
            current.append(character)
            if inComment {
                if character == "\n" { inComment = false }
            } else if inQuote {
                if character == "'" { inQuote = false }
            } else if inDollar {
                if character == "$" && previous == "$" {
                    inDollar = false
                    previous = " "
                    continue
                }
            } else if character == "-" && previous == "-" {
                inComment = true
            } else if character == "'" {
                inQuote = true
            } else if character == "$" && previous == "$" {
                inDollar = true
                previous = " "
                continue
            } else if character == ";" {
                let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !statement.isEmpty { statements.append(statement) }
                current = ""
            }
            previous = character
        }
        let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.split(separator: "\n").allSatisfy({ $0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }) {
            statements.append(rest)
        }
        return statements
    }
}
