import Foundation
import Skald
import SkaldExamples
import Testing

@Suite struct PlaceOrderTests {
    let request = PlaceOrderRequest(
        orderId: "o-1", customerId: "c-1", lines: [OrderLine(sku: "sku-1", quantity: 2)], amountCents: 1999)

    @Test func definitionIsValid() throws {
        #expect(placeOrder.validationErrors().isEmpty)
        try placeOrder.validate()
    }

    @Test func happyPathCompletes() throws {
        var driver = Driver(placeOrder)
        try driver.start(request)
        #expect(driver.commands.map(\.messageType) == [CreateOrder.messageType])
        #expect(driver.commands[0].id == "saga-1/create-order/action/1")
        #expect(driver.commands[0].key == "saga-1")
        try driver.reply("create-order", OrderCreated(orderId: "o-1"))
        try driver.reply("reserve-inventory", InventoryReserved(orderId: "o-1", reservationId: "r-9"))
        try driver.reply("process-payment", PaymentProcessed(paymentId: "p-7"))
        try driver.reply("confirm-order", OrderConfirmed(orderId: "o-1"))
        #expect(driver.instance.pivotPassed)
        try driver.reply("notify-customer", CustomerNotified())
        #expect(driver.instance.status == .completed)
        #expect(driver.instance.data?.reservationId == "r-9")
        #expect(driver.instance.data?.paymentId == "p-7")
        #expect(
            driver.commandSteps(.action) == [
                "create-order", "reserve-inventory", "process-payment", "confirm-order", "notify-customer",
            ])
        #expect(driver.commandSteps(.compensation).isEmpty)
        #expect(driver.typeNames.last == "saga.completed")
        #expect(try placeOrder.fold(sagaId: "saga-1", events: driver.events) == driver.instance)
    }

    @Test func paymentDeclinedCompensatesInReverseOrder() throws {
        var driver = Driver(placeOrder)
        try driver.start(request)
        try driver.reply("create-order", OrderCreated(orderId: "o-1"))
        try driver.reply("reserve-inventory", InventoryReserved(orderId: "o-1", reservationId: "r-9"))
        try driver.reply("process-payment", PaymentDeclined(reason: "card expired"))
        #expect(driver.instance.status == .compensating)
        #expect(driver.instance.data?.failure == "card expired")
        #expect(driver.commandSteps(.compensation) == ["reserve-inventory"])
        try driver.reply("reserve-inventory", InventoryReleased(orderId: "o-1"), .compensation)
        #expect(driver.commandSteps(.compensation) == ["reserve-inventory", "create-order"])
        try driver.reply("create-order", OrderCancelled(orderId: "o-1"), .compensation)
        #expect(driver.instance.status == .compensated)
        #expect(driver.lastCommand("create-order", .compensation)?.messageType == CancelOrder.messageType)
        #expect(try placeOrder.fold(sagaId: "saga-1", events: driver.events) == driver.instance)
    }

    @Test func retryableFailureRetriesWithBackoffThenSucceeds() throws {
        var driver = Driver(placeOrder)
        try driver.start(request)
        try driver.reply("create-order", OrderCreated(orderId: "o-1"))
        try driver.reply("reserve-inventory", InventoryReserved(orderId: "o-1", reservationId: "r"))
        let busy = try driver.reply("process-payment", PaymentGatewayBusy())
        #expect(busy.timers.map(\.kind) == [.stepRetry(step: "process-payment", attempt: 2)])
        let delay = busy.timers[0].due.timeIntervalSince(driver.now)
        #expect(delay > 1.5 && delay <= 2.0)
        let retry = try driver.fire(.stepRetry(step: "process-payment", attempt: 2))
        #expect(retry.commands.map(\.id) == ["saga-1/process-payment/action/2"])
        try driver.reply("process-payment", PaymentProcessed(paymentId: "p"))
        #expect(driver.lastCommand("confirm-order") != nil)
    }

    @Test func jitterIsDeterministicPerSaga() throws {
        func dueOfRetry(_ sagaId: String) throws -> Date? {
            var driver = Driver(placeOrder, sagaId: sagaId)
            try driver.start(request)
            try driver.reply("create-order", OrderCreated(orderId: "o-1"))
            try driver.reply("reserve-inventory", InventoryReserved(orderId: "o-1", reservationId: "r"))
            return try driver.reply("process-payment", PaymentGatewayBusy()).timers.first?.due
        }
        #expect(try dueOfRetry("a") == dueOfRetry("a"))
        #expect(try dueOfRetry("a") != dueOfRetry("b"))
    }

    @Test func startedByDomainEvent() throws {
        var driver = Driver(placeOrder)
        try driver.start(OrderCreatedEvent(orderId: "o-5", customerId: "c", lines: [], amountCents: 1))
        #expect(driver.instance.data?.orderId == "o-5")
        #expect(placeOrder.businessKey(try #require(driver.instance.data)) == "o-5")
    }

    @Test func unknownStartMessageIsAnError() throws {
        var driver = Driver(placeOrder)
        #expect(throws: SagaError.self) { try driver.start(OrderCreated(orderId: "x")) }
    }

    @Test func deadlineBeforePivotCompensates() throws {
        var driver = Driver(placeOrder)
        let start = try driver.start(request)
        #expect(start.timers.contains { $0.kind == .deadline })
        try driver.reply("create-order", OrderCreated(orderId: "o-1"))
        try driver.fire(.deadline)
        // reserve-inventory is in flight: wait for its outcome before undoing anything.
        #expect(driver.instance.status == .compensating)
        #expect(driver.commandSteps(.compensation).isEmpty)
        try driver.reply("reserve-inventory", InventoryReserved(orderId: "o-1", reservationId: "r"))
        #expect(driver.commandSteps(.compensation) == ["reserve-inventory"])
    }

    @Test func timeoutWithUnknownOutcomeIsCompensated() throws {
        var driver = Driver(placeOrder)
        try driver.start(request)
        try driver.reply("create-order", OrderCreated(orderId: "o-1"))
        for attempt in 1...3 {
            try driver.fire(.stepTimeout(step: "reserve-inventory", attempt: attempt))
            if attempt < 3 { try driver.fire(.stepRetry(step: "reserve-inventory", attempt: attempt + 1)) }
        }
        #expect(driver.instance.status == .compensating)
        #expect(driver.commandSteps(.compensation) == ["reserve-inventory"])
        // The late success of the first attempt is recorded; the step is not compensated twice.
        let late = try driver.send(
            .message(
                IncomingMessage(
                    InventoryReserved(orderId: "o-1", reservationId: "late"), messageId: "late",
                    causationId: "saga-1/reserve-inventory/action/1")))
        #expect(late.commands.isEmpty)
        #expect(late.events.map(\.kind.typeName) == ["step.succeeded"])
        try driver.reply("reserve-inventory", InventoryReleased(orderId: "o-1"), .compensation)
        try driver.reply("create-order", OrderCancelled(orderId: "o-1"), .compensation)
        #expect(driver.instance.status == .compensated)
        #expect(driver.commandSteps(.compensation) == ["reserve-inventory", "create-order"])
    }

    @Test func duplicateAndUnknownRepliesAreRecordedAndIgnored() throws {
        var driver = Driver(placeOrder)
        try driver.start(request)
        try driver.reply("create-order", OrderCreated(orderId: "o-1"))
        let duplicate = try driver.reply("create-order", OrderCreated(orderId: "o-1"))
        #expect(duplicate.commands.isEmpty)
        guard case .inputIgnored(_, _, _, _, let reason) = duplicate.events.first?.kind else {
            Issue.record("expected input-ignored, got \(duplicate.events)")
            return
        }
        #expect(reason.contains("duplicate"))
        let stray = try driver.send(.message(IncomingMessage(CustomerNotified(), messageId: "x", step: "nope")))
        #expect(stray.events.map(\.kind.typeName) == ["saga.input-ignored"])
        #expect(stray.commands.isEmpty)
    }

    @Test func replyToFinishedSagaIsIgnored() throws {
        var driver = Driver(placeOrder)
        try driver.start(request)
        try driver.reply("create-order", OrderRejected(reason: "blocked customer"))
        #expect(driver.instance.status == .compensated)
        let after = try driver.reply("create-order", OrderCreated(orderId: "o-1"))
        #expect(after.commands.isEmpty && after.timers.isEmpty)
        #expect(after.events.map(\.kind.typeName) == ["saga.input-ignored"])
    }

    @Test func pivotFailureCompensatesEverythingBefore() throws {
        var driver = Driver(placeOrder)
        try driver.start(request)
        try driver.reply("create-order", OrderCreated(orderId: "o-1"))
        try driver.reply("reserve-inventory", InventoryReserved(orderId: "o-1", reservationId: "r"))
        try driver.reply("process-payment", PaymentProcessed(paymentId: "p"))
        try driver.reply("confirm-order", OrderConfirmationFailed(reason: "fraud"))
        #expect(driver.commandSteps(.compensation) == ["process-payment"])
        try driver.reply("process-payment", PaymentRefunded(orderId: "o-1"), .compensation)
        try driver.reply("reserve-inventory", InventoryReleased(orderId: "o-1"), .compensation)
        try driver.reply("create-order", OrderCancelled(orderId: "o-1"), .compensation)
        #expect(driver.instance.status == .compensated)
    }

    @Test func retriableStepExhaustedNeedsOperatorThenRetryResumes() throws {
        var driver = Driver(placeOrder)
        try driver.start(request)
        try driver.reply("create-order", OrderCreated(orderId: "o-1"))
        try driver.reply("reserve-inventory", InventoryReserved(orderId: "o-1", reservationId: "r"))
        try driver.reply("process-payment", PaymentProcessed(paymentId: "p"))
        try driver.reply("confirm-order", OrderConfirmed(orderId: "o-1"))
        for attempt in 1...5 {
            try driver.reply("notify-customer", NotificationFailed())
            if attempt < 5 { try driver.fire(.stepRetry(step: "notify-customer", attempt: attempt + 1)) }
        }
        #expect(driver.instance.status == .failedNeedsOperator)
        #expect(driver.instance.stuck?.step == 4)
        let abort = try driver.send(.operatorCommand(OperatorCommand(.abort, actor: "ops")))
        #expect(abort.events.map(\.kind.typeName) == ["operator.command-rejected"])
        let retry = try driver.send(.operatorCommand(OperatorCommand(.retry, actor: "ops")))
        #expect(retry.commands.map(\.id) == ["saga-1/notify-customer/action/6"])
        try driver.reply("notify-customer", CustomerNotified())
        #expect(driver.instance.status == .completed)
    }

    @Test func compensationExhaustedNeedsOperatorThenSkip() throws {
        let definition = placeOrder.compensations(retry: .exponential(maxAttempts: 2, initial: .seconds(1)))
        var driver = Driver(definition)
        try driver.start(request)
        try driver.reply("create-order", OrderCreated(orderId: "o-1"))
        try driver.reply("reserve-inventory", OutOfStock(orderId: "o-1", sku: "sku-1"))
        try driver.fire(.compensationTimeout(step: "create-order", attempt: 1))
        try driver.fire(.compensationRetry(step: "create-order", attempt: 2))
        try driver.fire(.compensationTimeout(step: "create-order", attempt: 2))
        #expect(driver.instance.status == .failedNeedsOperator)
        #expect(driver.instance.stuck?.compensating == true)
        try driver.send(.operatorCommand(OperatorCommand(.skip, actor: "ops", reason: "cancelled by hand")))
        #expect(driver.instance.status == .compensated)
    }

    @Test func abortBeforePivotCompensates() throws {
        var driver = Driver(placeOrder)
        try driver.start(request)
        try driver.reply("create-order", OrderCreated(orderId: "o-1"))
        try driver.reply("reserve-inventory", InventoryReserved(orderId: "o-1", reservationId: "r"))
        try driver.send(.operatorCommand(OperatorCommand(.abort, actor: "ops", reason: "customer called")))
        #expect(driver.instance.status == .compensating)
        // process-payment is in flight: its outcome decides whether it is refunded.
        try driver.reply("process-payment", PaymentProcessed(paymentId: "p"))
        #expect(driver.commandSteps(.compensation) == ["process-payment"])
    }

    @Test func outOfOrderReplyToOldAttemptIsIgnored() throws {
        var driver = Driver(placeOrder)
        try driver.start(request)
        try driver.reply("create-order", OrderCreated(orderId: "o-1"))
        try driver.reply("reserve-inventory", InventoryReserved(orderId: "o-1", reservationId: "r"))
        try driver.fire(.stepTimeout(step: "process-payment", attempt: 1))
        try driver.fire(.stepRetry(step: "process-payment", attempt: 2))
        let stale = try driver.send(
            .message(
                IncomingMessage(
                    PaymentGatewayBusy(), messageId: "old", causationId: "saga-1/process-payment/action/1")))
        #expect(stale.events.map(\.kind.typeName) == ["saga.input-ignored"])
        let never = try driver.send(
            .message(
                IncomingMessage(PaymentProcessed(paymentId: "p"), messageId: "x", causationId: "saga-1/process-payment/action/9")))
        #expect(never.events.map(\.kind.typeName) == ["saga.input-ignored"])
    }
}

@Suite struct InPlaceTransitionTests {
    @Test func reusedBufferGivesWhatDecideGives() throws {
        let request = PlaceOrderRequest(orderId: "o-1", customerId: "c-1", lines: [], amountCents: 1)
        var reference = Driver(placeOrder)
        var instance = SagaInstance<PlaceOrderState>(sagaId: "saga-1")
        var buffer = Transition()
        func check(_ input: SagaInput) throws {
            let decision = try reference.send(input)
            try placeOrder.transition(&instance, input, now: reference.now, into: &buffer)
            #expect(instance == decision.instance)
            #expect(buffer.events == decision.events)
            #expect(buffer.commands == decision.commands)
            #expect(buffer.timers == decision.timers)
            #expect(buffer.cancelledTimers == decision.cancelledTimers)
        }
        try check(.start(StartMessage(request, messageId: "start-1")))
        try check(.message(IncomingMessage(OrderCreated(orderId: "o-1"), messageId: "m1", causationId: "saga-1/create-order/action/1")))
        try check(.message(IncomingMessage(OutOfStock(orderId: "o-1", sku: "x"), messageId: "m2", step: "reserve-inventory")))
        try check(.message(IncomingMessage(OrderCancelled(orderId: "o-1"), messageId: "m3", causationId: "saga-1/create-order/compensation/1")))
        #expect(instance.status == .compensated)
        try check(.message(IncomingMessage(OrderCancelled(orderId: "o-1"), messageId: "m3", causationId: "saga-1/create-order/compensation/1")))
        #expect(buffer.commands.isEmpty && buffer.events.count == 1)
    }
}
