extension SagaDefinition {
    /// Every rule this definition breaks; empty when it is sound.
    public func validationErrors() -> [SagaDefinitionError] {
        var errors: [SagaDefinitionError] = []
        func fail(_ step: String?, _ rule: SagaDefinitionError.Rule, _ detail: String) {
            errors.append(SagaDefinitionError(saga: name, version: version, step: step, rule: rule, detail: detail))
        }
        func validName(_ text: String) -> Bool {
            !text.isEmpty && !text.contains("/") && !text.contains(where: \.isWhitespace)
        }

        if !validName(name) { fail(nil, .invalidName, "the saga name '\(name)' must be non-empty, without '/' or spaces") }
        if version < 1 { fail(nil, .invalidVersion, "the version must be 1 or more, not \(version)") }
        if engine.steps.isEmpty && nodes.allSatisfy({ !$0.isParallel }) { fail(nil, .noSteps, "a saga needs at least one step") }
        if startTriggers.isEmpty {
            fail(nil, .noStartTrigger, "add .startedBy(command:) or .startedBy(event:on:key:) so instances can begin")
        }
        var triggerTypes: Set<String> = []
        for trigger in startTriggers where !triggerTypes.insert(trigger.messageType).inserted {
            fail(nil, .duplicateStartTrigger, "two start triggers use the message type '\(trigger.messageType)'")
        }
        if let deadline, deadline <= .zero { fail(nil, .invalidTiming, "the saga deadline must be positive") }
        if compensationTimeout <= .zero { fail(nil, .invalidTiming, "the compensation timeout must be positive") }
        checkPolicy(compensationRetry, owner: nil, what: "the compensation retry policy", fail: fail)

        var seen: Set<String> = []
        for node in nodes where node.isParallel {
            if node.steps.isEmpty { fail(node.name, .emptyParallelGroup, "a parallel group needs at least one branch") }
            if !validName(node.name) { fail(node.name, .invalidName, "a group name must be non-empty, without '/' or spaces") }
            if !seen.insert(node.name).inserted {
                fail(node.name, .duplicateStepName, "the name '\(node.name)' is used more than once")
            }
        }
        for step in engine.steps {
            if !validName(step.name) {
                fail(step.name, .invalidName, "a step name must be non-empty, without '/' or spaces")
            }
            if !seen.insert(step.name).inserted {
                fail(step.name, .duplicateStepName, "the name '\(step.name)' is used more than once")
            }
            // A step without a command, or with two, does not compile (see StepBuilder).
            if step.successReplies.isEmpty {
                fail(step.name, .missingSuccessReply, "no OnSuccess reply: the step could never finish")
            }
            var replyTypes: Set<String> = []
            for reply in step.successReplies + step.failureReplies where !replyTypes.insert(reply.messageType).inserted {
                fail(step.name, .ambiguousReply, "the reply type '\(reply.messageType)' is listed more than once")
            }
            switch step.kind {
            case .compensatable where step.compensation == nil:
                fail(step.name, .missingCompensation, "a compensatable step needs a Compensation(to:confirmedBy:)")
            case .pivot where step.compensation != nil, .retriable where step.compensation != nil:
                fail(
                    step.name, .unusedCompensation,
                    "a \(step.kind.rawValue) step is never compensated; remove its Compensation or make it compensatable")
            default: break
            }
            if step.timeout <= .zero { fail(step.name, .invalidTiming, "the step timeout must be positive") }
            if let retry = step.retry { checkPolicy(retry, owner: step.name, what: "the retry policy", fail: fail) }
        }

        // The order compensatable* pivot? retriable*, with a group counting as one position.
        var pivot: String?
        var lastCompensatable: String?
        var firstRetriable: String?
        for node in nodes {
            for index in node.steps {
                let step = engine.steps[index]
                switch step.kind {
                case .pivot:
                    if node.isParallel {
                        fail(step.name, .pivotInParallelGroup, "the pivot must be a single step, not a branch of '\(node.name)'")
                    }
                    if let pivot {
                        fail(step.name, .multiplePivots, "a saga has at most one pivot; '\(pivot)' is already one")
                    } else {
                        pivot = step.name
                    }
                    if let firstRetriable {
                        fail(firstRetriable, .retriableBeforePivot, "a retriable step must come after the pivot '\(step.name)'")
                    }
                case .compensatable:
                    if let pivot {
                        fail(step.name, .compensatableAfterPivot, "a compensatable step may not follow the pivot '\(pivot)'")
                    } else if let firstRetriable {
                        fail(
                            firstRetriable, .retriableBeforePivot,
                            "a retriable step must come after every compensatable step, but '\(step.name)' follows it")
                    }
                    lastCompensatable = step.name
                case .retriable:
                    if firstRetriable == nil { firstRetriable = step.name }
                }
            }
        }
        _ = lastCompensatable
        return errors
    }

    /// Checks the definition and throws every broken rule at once.
    public func validate() throws(SagaDefinitionErrors) {
        let errors = validationErrors()
        if !errors.isEmpty { throw SagaDefinitionErrors(errors: errors) }
    }

    private func checkPolicy(
        _ policy: RetryPolicy, owner: String?, what: String,
        fail: (String?, SagaDefinitionError.Rule, String) -> Void
    ) {
        if policy.maxAttempts < 1 { fail(owner, .invalidTiming, "\(what) needs maxAttempts of 1 or more") }
        if policy.initialDelay < .zero || policy.maxDelay < .zero {
            fail(owner, .invalidTiming, "\(what) has a negative delay")
        }
        if !(policy.multiplier >= 1) { fail(owner, .invalidTiming, "\(what) needs a multiplier of 1 or more") }
        if !(0...1).contains(policy.jitter) { fail(owner, .invalidTiming, "\(what) needs a jitter between 0 and 1") }
    }
}
