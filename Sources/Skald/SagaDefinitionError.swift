/// A rule a saga definition breaks, found when it is registered.
///
/// The message names the saga, the step and the rule, e.g.
/// `PlaceOrder v1, step 'refund': a compensatable step may not follow the pivot 'confirm-order' (rule: compensatable-after-pivot)`.
public struct SagaDefinitionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The rules, with stable codes for tooling.
    public enum Rule: String, Sendable, Hashable, CaseIterable {
        /// The saga has no steps.
        case noSteps = "no-steps"
        /// A saga or step name is empty or contains `/` (it is part of command ids).
        case invalidName = "invalid-name"
        /// Two steps (or a step and a group) share a name.
        case duplicateStepName = "duplicate-step-name"
        /// A step lists no reply that means success, so it could never finish.
        case missingSuccessReply = "missing-success-reply"
        /// The same message type is listed twice in one step's replies.
        case ambiguousReply = "ambiguous-reply"
        /// A compensatable step has no compensation.
        case missingCompensation = "missing-compensation"
        /// A pivot or retriable step has a compensation that could never run.
        case unusedCompensation = "unused-compensation"
        /// More than one pivot.
        case multiplePivots = "multiple-pivots"
        /// A compensatable step comes after the pivot.
        case compensatableAfterPivot = "compensatable-after-pivot"
        /// A retriable step comes before the pivot or before a compensatable step.
        case retriableBeforePivot = "retriable-before-pivot"
        /// A pivot inside a parallel group (the point of no return must be one step).
        case pivotInParallelGroup = "pivot-in-parallel-group"
        /// A parallel group has no branches.
        case emptyParallelGroup = "empty-parallel-group"
        /// A timeout, deadline or retry policy is zero, negative or nonsensical.
        case invalidTiming = "invalid-timing"
        /// The saga has no start trigger.
        case noStartTrigger = "no-start-trigger"
        /// Two start triggers use the same message type.
        case duplicateStartTrigger = "duplicate-start-trigger"
        /// The version is below 1.
        case invalidVersion = "invalid-version"
    }

    /// The saga type.
    public let saga: String
    /// Its version.
    public let version: Int
    /// The step (or group) at fault, if the rule is about one.
    public let step: String?
    /// The rule broken.
    public let rule: Rule
    /// What is wrong, in words.
    public let detail: String

    /// `PlaceOrder v1, step 'x': detail (rule: code)`.
    public var description: String {
        let place = step.map { ", step '\($0)'" } ?? ""
        return "\(saga) v\(version)\(place): \(detail) (rule: \(rule.rawValue))"
    }
}

/// Every rule a definition breaks, so a developer fixes them in one pass.
public struct SagaDefinitionErrors: Error, Sendable, CustomStringConvertible {
    /// The problems, in step order.
    public let errors: [SagaDefinitionError]

    /// One problem per line.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
