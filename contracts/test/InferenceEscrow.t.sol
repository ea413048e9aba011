// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {InferenceEscrow} from "../src/InferenceEscrow.sol";
import {RewardsDistributor} from "../src/RewardsDistributor.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

contract InferenceEscrowTest is Fixture {
    event EpochSettled(uint64 indexed epoch, uint256 total, uint256 accounts, bytes32 recordsRoot, address sink);

    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    /// Deposits and authorizes a cap far above any test amount (tests of the authorization use their own).
    function _deposit(address who, uint256 amount) internal {
        fund(who, amount, address(escrow));
        vm.prank(who);
        escrow.deposit(amount);
        authorize(who, type(uint128).max);
    }

    function _settle(uint64 epoch, address a, uint256 amount) internal returns (uint256) {
        address[] memory accounts = new address[](1);
        uint256[] memory amounts = new uint256[](1);
        accounts[0] = a;
        amounts[0] = amount;
        vm.prank(node);
        return escrow.settle(epoch, accounts, amounts, keccak256("records"));
    }

    function test_deposit_creditsBalance() public {
        _deposit(alice, 10 ether);
        assertEq(escrow.balanceOf(alice), 10 ether);
        assertEq(escrow.totalBalance(), 10 ether);
        assertEq(token.balanceOf(address(escrow)), 10 ether);
        vm.expectRevert(InferenceEscrow.ZeroAmount.selector);
        vm.prank(alice);
        escrow.deposit(0);
    }

    function test_depositFor_creditsSomeoneElse() public {
        fund(alice, 4 ether, address(escrow));
        vm.prank(alice);
        escrow.depositFor(bob, 4 ether);
        assertEq(escrow.balanceOf(bob), 4 ether);
        assertEq(escrow.balanceOf(alice), 0);
    }

    function _permit(uint256 key, uint256 value, uint256 deadline) internal view returns (uint8, bytes32, bytes32) {
        address owner = vm.addr(key);
        bytes32 structHash =
            keccak256(abi.encode(PERMIT_TYPEHASH, owner, address(escrow), value, token.nonces(owner), deadline));
        return vm.sign(key, keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash)));
    }

    function test_depositWithPermit() public {
        uint256 key = 0xB0B;
        address owner = vm.addr(key);
        vm.prank(admin);
        token.mint(owner, 5 ether);
        uint256 deadline = block.timestamp + 600;
        (uint8 v, bytes32 r, bytes32 s) = _permit(key, 5 ether, deadline);
        vm.prank(owner);
        escrow.depositWithPermit(5 ether, deadline, v, r, s);
        assertEq(escrow.balanceOf(owner), 5 ether);
    }

    function test_depositWithPermit_survivesFrontRun() public {
        uint256 key = 0xB0B;
        address owner = vm.addr(key);
        vm.prank(admin);
        token.mint(owner, 5 ether);
        uint256 deadline = block.timestamp + 600;
        (uint8 v, bytes32 r, bytes32 s) = _permit(key, 5 ether, deadline);
        // An observer submits the permit first, consuming the nonce; the deposit must still go through.
        vm.prank(carol);
        token.permit(owner, address(escrow), 5 ether, deadline, v, r, s);
        vm.prank(owner);
        escrow.depositWithPermit(5 ether, deadline, v, r, s);
        assertEq(escrow.balanceOf(owner), 5 ether);
    }

    function test_depositWithPermit_badSignatureWithoutAllowanceReverts() public {
        vm.prank(admin);
        token.mint(alice, 1 ether);
        vm.expectRevert();
        vm.prank(alice);
        escrow.depositWithPermit(1 ether, block.timestamp + 1, 27, bytes32(uint256(1)), bytes32(uint256(2)));
    }

    function test_withdrawal_waitsForDelay() public {
        _deposit(alice, 10 ether);
        vm.prank(alice);
        escrow.requestWithdrawal(4 ether);
        uint64 availableAt = uint64(block.timestamp) + WITHDRAWAL_DELAY;
        assertEq(escrow.pendingWithdrawal(alice).availableAt, availableAt);
        assertEq(escrow.spendableBalance(alice), 6 ether);

        vm.warp(availableAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(InferenceEscrow.WithdrawalNotReady.selector, alice, availableAt, availableAt - 1)
        );
        vm.prank(alice);
        escrow.withdraw();

        vm.warp(availableAt);
        vm.prank(alice);
        assertEq(escrow.withdraw(), 4 ether);
        assertEq(token.balanceOf(alice), 4 ether);
        assertEq(escrow.balanceOf(alice), 6 ether);
        assertEq(escrow.pendingWithdrawal(alice).availableAt, 0);
        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.NoPendingWithdrawal.selector, alice));
        vm.prank(alice);
        escrow.withdraw();
    }

    function test_requestWithdrawal_limits() public {
        _deposit(alice, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.InsufficientBalance.selector, alice, 1 ether, 2 ether));
        vm.prank(alice);
        escrow.requestWithdrawal(2 ether);
        vm.expectRevert(InferenceEscrow.ZeroAmount.selector);
        vm.prank(alice);
        escrow.requestWithdrawal(0);
    }

    function test_newRequestReplacesAndRestartsDelay() public {
        _deposit(alice, 10 ether);
        vm.prank(alice);
        escrow.requestWithdrawal(3 ether);
        vm.warp(block.timestamp + WITHDRAWAL_DELAY - 10);
        vm.prank(alice);
        escrow.requestWithdrawal(5 ether);
        vm.warp(block.timestamp + 10);
        vm.expectRevert();
        vm.prank(alice);
        escrow.withdraw();
        vm.warp(block.timestamp + WITHDRAWAL_DELAY);
        vm.prank(alice);
        assertEq(escrow.withdraw(), 5 ether);
    }

    function test_cancelWithdrawal() public {
        _deposit(alice, 2 ether);
        vm.prank(alice);
        escrow.requestWithdrawal(2 ether);
        vm.prank(alice);
        escrow.cancelWithdrawal();
        assertEq(escrow.spendableBalance(alice), 2 ether);
        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.NoPendingWithdrawal.selector, alice));
        vm.prank(alice);
        escrow.cancelWithdrawal();
    }

    /// The documented rule: funds with a pending withdrawal stay debitable until withdrawn; withdraw pays
    /// min(requested, balance).
    function test_pendingWithdrawal_staysDebitable() public {
        _deposit(alice, 10 ether);
        vm.prank(alice);
        escrow.requestWithdrawal(8 ether);
        _settle(1, alice, 7 ether); // usage served before the request still gets paid
        assertEq(escrow.balanceOf(alice), 3 ether);
        assertEq(escrow.spendableBalance(alice), 0);
        vm.warp(block.timestamp + WITHDRAWAL_DELAY);
        vm.prank(alice);
        assertEq(escrow.withdraw(), 3 ether);
        assertEq(escrow.balanceOf(alice), 0);
        assertEq(token.balanceOf(alice), 3 ether);
        assertEq(token.balanceOf(address(rewards)), 7 ether);
    }

    function test_withdraw_afterFullDebitReverts() public {
        _deposit(alice, 1 ether);
        vm.prank(alice);
        escrow.requestWithdrawal(1 ether);
        _settle(1, alice, 1 ether);
        vm.warp(block.timestamp + WITHDRAWAL_DELAY);
        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.InsufficientBalance.selector, alice, 0, 1 ether));
        vm.prank(alice);
        escrow.withdraw();
    }

    function test_settle_movesToSinkAndEmits() public {
        _deposit(alice, 10 ether);
        _deposit(bob, 10 ether);
        address[] memory accounts = new address[](3);
        uint256[] memory amounts = new uint256[](3);
        (accounts[0], accounts[1], accounts[2]) = (alice, bob, carol);
        (amounts[0], amounts[1], amounts[2]) = (1 ether, 2 ether, 0);
        vm.expectEmit(true, false, false, true, address(escrow));
        emit EpochSettled(1, 3 ether, 3, keccak256("r"), address(rewards));
        vm.prank(node);
        assertEq(escrow.settle(1, accounts, amounts, keccak256("r")), 3 ether);
        assertEq(escrow.balanceOf(alice), 9 ether);
        assertEq(escrow.balanceOf(bob), 8 ether);
        assertEq(escrow.totalBalance(), 17 ether);
        assertEq(token.balanceOf(address(rewards)), 3 ether);
        assertEq(escrow.lastSettledEpoch(), 1);
    }

    function test_settle_rules() public {
        _deposit(alice, 1 ether);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, escrow.SETTLER_ROLE())
        );
        vm.prank(alice);
        escrow.settle(1, new address[](0), new uint256[](0), bytes32(0));

        // A short balance takes what is there and records the shortfall; it does not revert.
        vm.expectEmit(true, true, false, true, address(escrow));
        emit InferenceEscrow.Shortfall(1, alice, 2 ether, 1 ether);
        assertEq(_settle(1, alice, 2 ether), 1 ether);
        assertEq(escrow.balanceOf(alice), 0);
        _deposit(alice, 1 ether);

        _settle(5, alice, 0.5 ether);
        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.EpochNotIncreasing.selector, 5, 5));
        _settle(5, alice, 0.1 ether);
        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.EpochNotIncreasing.selector, 4, 5));
        _settle(4, alice, 0.1 ether);

        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.LengthMismatch.selector, 1, 0));
        vm.prank(node);
        escrow.settle(6, new address[](1), new uint256[](0), bytes32(0));
    }

    function test_admin_setSinkAndDelay() public {
        RewardsDistributor other = new RewardsDistributor(admin, token, ACTIVATION_DELAY, MIN_ACTIVATION_DELAY);
        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.SinkNotContract.selector, treasury));
        vm.prank(admin);
        escrow.setSink(treasury);
        vm.prank(admin);
        escrow.setSink(address(other));
        assertEq(escrow.sink(), address(other));
        _deposit(alice, 1 ether);
        _settle(1, alice, 1 ether);
        assertEq(token.balanceOf(address(other)), 1 ether);
        assertEq(other.totalFunded(), 1 ether);

        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.DelayTooLong.selector, 31 days, 30 days));
        vm.prank(admin);
        escrow.setWithdrawalDelay(31 days);
        vm.expectRevert();
        vm.prank(node);
        escrow.setSink(node);
    }

    function testFuzz_settleNeverExceedsBalance(uint96 deposit, uint96 debit) public {
        vm.assume(deposit > 0);
        _deposit(alice, deposit);
        if (debit > deposit) {
            assertEq(_settle(1, alice, debit), deposit); // takes what is there
            assertEq(escrow.balanceOf(alice), 0);
            assertEq(token.balanceOf(address(rewards)), deposit);
        } else {
            _settle(1, alice, debit);
            assertEq(escrow.balanceOf(alice), uint256(deposit) - debit);
            assertEq(token.balanceOf(address(rewards)), debit);
        }
        assertEq(token.balanceOf(address(escrow)), escrow.totalBalance());
    }

    function testFuzz_withdrawPaysMinOfRequestAndBalance(uint96 deposit, uint96 request, uint96 debit) public {
        uint256 d = bound(deposit, 1, type(uint96).max);
        uint256 q = bound(request, 1, d);
        uint256 u = bound(debit, 0, d - 1);
        _deposit(alice, d);
        vm.prank(alice);
        escrow.requestWithdrawal(q);
        _settle(1, alice, u);
        vm.warp(block.timestamp + WITHDRAWAL_DELAY);
        uint256 expected = q < d - u ? q : d - u;
        vm.prank(alice);
        assertEq(escrow.withdraw(), expected);
        assertEq(escrow.balanceOf(alice), d - u - expected);
    }

    // ---- spend authorizations ----

    uint256 internal constant PAYER_KEY = 0xA11CE;
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    function _auth(uint256 cap, uint64 expiry, uint256 nonce) internal view returns (InferenceEscrow.SpendAuthorization memory) {
        return InferenceEscrow.SpendAuthorization({
            payer: vm.addr(PAYER_KEY), scope: keccak256("api-key-1"), cap: cap, expiry: expiry, nonce: nonce
        });
    }

    function _domain(uint256 chainId, address verifying) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256("OpenLedger InferenceEscrow"), keccak256("1"), chainId, verifying
            )
        );
    }

    function _sign(InferenceEscrow.SpendAuthorization memory a, bytes32 domain) internal pure returns (bytes memory) {
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("SpendAuthorization(address payer,bytes32 scope,uint256 cap,uint64 expiry,uint256 nonce)"),
                a.payer,
                a.scope,
                a.cap,
                a.expiry,
                a.nonce
            )
        );
        (uint8 v, bytes32 r, bytes32 s_) = vm.sign(PAYER_KEY, keccak256(abi.encodePacked("\x19\x01", domain, structHash)));
        return abi.encodePacked(r, s_, v);
    }

    function _depositOnly(address who, uint256 amount) internal {
        fund(who, amount, address(escrow));
        vm.prank(who);
        escrow.deposit(amount);
    }

    function _settle2(uint64 epoch, address a, uint256 x, address b, uint256 y) internal returns (uint256) {
        address[] memory accounts = new address[](2);
        uint256[] memory amounts = new uint256[](2);
        (accounts[0], accounts[1]) = (a, b);
        (amounts[0], amounts[1]) = (x, y);
        vm.prank(node);
        return escrow.settle(epoch, accounts, amounts, keccak256("records"));
    }

    function test_signedAuthorization_relayedByAnyone() public {
        address payer = vm.addr(PAYER_KEY);
        _depositOnly(payer, 10 ether);
        InferenceEscrow.SpendAuthorization memory a = _auth(3 ether, uint64(block.timestamp + 1 days), 7);
        assertEq(escrow.DOMAIN_SEPARATOR(), _domain(block.chainid, address(escrow)));
        vm.prank(carol); // a relayer, not the payer
        escrow.authorizeSpend(a, _sign(a, escrow.DOMAIN_SEPARATOR()));
        (bytes32 scope, uint256 cap, uint256 spent, uint64 expiry, uint256 nonce) = escrow.spendAuthorization(payer);
        assertEq(scope, keccak256("api-key-1"));
        assertEq(cap, 3 ether);
        assertEq(spent, 0);
        assertEq(expiry, a.expiry);
        assertEq(nonce, 7);
        assertTrue(escrow.spendNonceUsed(payer, 7));
        assertEq(_settle(1, payer, 2 ether), 2 ether);
        assertEq(escrow.authorizedRemaining(payer), 1 ether);
    }

    function test_signedAuthorization_badInputRefused() public {
        address payer = vm.addr(PAYER_KEY);
        bytes32 domain = escrow.DOMAIN_SEPARATOR(); // read first: expectRevert applies to the next external call
        uint64 exp = uint64(block.timestamp + 1 days);
        InferenceEscrow.SpendAuthorization memory a = _auth(3 ether, exp, 1);
        bytes memory sigA = _sign(a, domain);
        escrow.authorizeSpend(a, sigA);
        // Replay of the same nonce.
        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.SpendNonceUsed.selector, payer, 1));
        escrow.authorizeSpend(a, sigA);
        // Signed for another chain id, or another contract.
        InferenceEscrow.SpendAuthorization memory b = _auth(3 ether, exp, 2);
        bytes memory otherChain = _sign(b, _domain(block.chainid + 1, address(escrow)));
        bytes memory otherContract = _sign(b, _domain(block.chainid, address(rewards)));
        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.InvalidSpendSignature.selector, payer));
        escrow.authorizeSpend(b, otherChain);
        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.InvalidSpendSignature.selector, payer));
        escrow.authorizeSpend(b, otherContract);
        // A field changed after signing (the cap raised by the relayer).
        bytes memory sig = _sign(b, domain);
        b.cap = 300 ether;
        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.InvalidSpendSignature.selector, payer));
        escrow.authorizeSpend(b, sig);
        // Expired.
        InferenceEscrow.SpendAuthorization memory c = _auth(3 ether, uint64(block.timestamp), 3);
        bytes memory sigC = _sign(c, domain);
        vm.expectRevert(
            abi.encodeWithSelector(InferenceEscrow.SpendAuthorizationExpired.selector, payer, c.expiry, block.timestamp)
        );
        escrow.authorizeSpend(c, sigC);
        // Nothing changed by the refused ones.
        (, uint256 cap,,, uint256 nonce) = escrow.spendAuthorization(payer);
        assertEq(cap, 3 ether);
        assertEq(nonce, 1);
        assertFalse(escrow.spendNonceUsed(payer, 2));
    }

    /// Hostile settler: debits beyond the payer's authorization are refused for that account only; nothing moves
    /// from it and the other accounts of the epoch settle.
    function test_settlerBeyondAuthorization_refusedForThatAccountOnly() public {
        _depositOnly(alice, 10 ether);
        _depositOnly(bob, 10 ether);
        authorize(alice, 2 ether);
        authorize(bob, 5 ether);
        vm.expectEmit(true, true, false, true, address(escrow));
        emit InferenceEscrow.DebitRefused(1, alice, 3 ether, 2 ether);
        assertEq(_settle2(1, alice, 3 ether, bob, 4 ether), 4 ether);
        assertEq(escrow.balanceOf(alice), 10 ether);
        assertEq(escrow.balanceOf(bob), 6 ether);
        // Within the cap works; the cap is cumulative across epochs.
        assertEq(_settle2(2, alice, 2 ether, bob, 2 ether), 2 ether); // bob: 4 + 2 > 5 → refused
        assertEq(escrow.balanceOf(bob), 6 ether);
        assertEq(escrow.authorizedRemaining(alice), 0);
        // No authorization at all: refused.
        _depositOnly(carol, 1 ether);
        assertEq(_settle(3, carol, 1), 0);
        assertEq(escrow.balanceOf(carol), 1 ether);
    }

    function test_expiredAuthorization_refused() public {
        _depositOnly(alice, 10 ether);
        vm.prank(alice);
        escrow.approveSpend(bytes32(0), 5 ether, uint64(block.timestamp + 1 hours));
        vm.warp(block.timestamp + 1 hours);
        assertEq(escrow.authorizedRemaining(alice), 0);
        assertEq(_settle(1, alice, 1 ether), 0);
        assertEq(escrow.balanceOf(alice), 10 ether);
        vm.expectRevert(
            abi.encodeWithSelector(InferenceEscrow.SpendAuthorizationExpired.selector, alice, 1, block.timestamp)
        );
        vm.prank(alice);
        escrow.approveSpend(bytes32(0), 5 ether, 1);
    }

    /// A payer cannot escape usage already served by signing a smaller authorization: the old remainder stays
    /// settleable for the withdrawal delay (and no longer after it).
    function test_loweredAuthorization_carriesOldRemainderForTheDelay() public {
        _depositOnly(alice, 10 ether);
        authorize(alice, 6 ether);
        _settle(1, alice, 1 ether); // 5 left
        authorize(alice, 1 ether); // tries to cut the node off
        (uint256 carry, uint64 until) = escrow.spendCarry(alice);
        assertEq(carry, 4 ether);
        assertEq(until, block.timestamp + WITHDRAWAL_DELAY);
        assertEq(escrow.authorizedRemaining(alice), 5 ether); // max(old remaining, new cap)
        assertEq(_settle(2, alice, 4.5 ether), 4.5 ether);
        assertEq(escrow.authorizedRemaining(alice), 0.5 ether);
        vm.warp(block.timestamp + WITHDRAWAL_DELAY);
        assertEq(escrow.authorizedRemaining(alice), 0.5 ether); // the carry ended; the new cap's rest remains
        // Raising the cap creates no carry (exposure is the new cap, not old + new).
        authorize(alice, 8 ether);
        (carry,) = escrow.spendCarry(alice);
        assertEq(carry, 0);
        assertEq(escrow.authorizedRemaining(alice), 8 ether);
    }

    /// A user requesting a withdrawal right after being served cannot run ahead of the settlement: the delay
    /// lets the epoch settle first, the withdrawal then pays what is left.
    function test_userWithdrawingAheadOfSettlement_stillSettles() public {
        _deposit(alice, 10 ether);
        vm.prank(alice);
        escrow.requestWithdrawal(10 ether);
        vm.warp(block.timestamp + WITHDRAWAL_DELAY - 1);
        vm.expectRevert();
        vm.prank(alice);
        escrow.withdraw();
        assertEq(_settle(1, alice, 6 ether), 6 ether);
        vm.warp(block.timestamp + 1);
        vm.prank(alice);
        assertEq(escrow.withdraw(), 4 ether);
        assertEq(token.balanceOf(address(rewards)), 6 ether);
    }

    function test_epochJumpBounded() public {
        uint64 jump = escrow.MAX_EPOCH_JUMP();
        vm.expectRevert(
            abi.encodeWithSelector(InferenceEscrow.EpochJumpTooLarge.selector, type(uint64).max, 0, jump)
        );
        vm.prank(node);
        escrow.settle(type(uint64).max, new address[](0), new uint256[](0), bytes32(0));
        vm.prank(node);
        escrow.settle(jump, new address[](0), new uint256[](0), bytes32(0));
        assertEq(escrow.lastSettledEpoch(), jump);
    }

    /// Whatever a settler asks for, over any sequence of epochs, no account loses more than it authorized.
    function testFuzz_debitsNeverExceedAuthorization(uint96 cap, uint96[6] memory asks, uint8 reauth) public {
        _depositOnly(alice, 1_000 ether);
        authorize(alice, cap);
        uint256 total;
        uint256 signed = cap;
        for (uint256 i = 0; i < asks.length; i++) {
            if (i == 3 && reauth % 2 == 1) {
                // Re-sign mid-way with a smaller cap: the total signed is at most old cap + new cap.
                authorize(alice, uint256(cap) / 3);
                signed += uint256(cap) / 3;
            }
            total += _settle(uint64(i + 1), alice, asks[i]);
        }
        assertTrue(total <= signed, "debited beyond what was signed");
        assertTrue(total <= 1_000 ether, "debited beyond the deposit");
        assertEq(escrow.balanceOf(alice), 1_000 ether - total);
        assertEq(token.balanceOf(address(rewards)), total);
        assertEq(rewards.totalFunded(), total);
    }
}
