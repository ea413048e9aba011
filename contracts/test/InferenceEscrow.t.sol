// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {InferenceEscrow} from "../src/InferenceEscrow.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

contract InferenceEscrowTest is Fixture {
    event EpochSettled(uint64 indexed epoch, uint256 total, uint256 accounts, bytes32 recordsRoot, address sink);

    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    function _deposit(address who, uint256 amount) internal {
        fund(who, amount, address(escrow));
        vm.prank(who);
        escrow.deposit(amount);
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

        vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.InsufficientBalance.selector, alice, 1 ether, 2 ether));
        _settle(1, alice, 2 ether);

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
        vm.prank(admin);
        escrow.setSink(treasury);
        assertEq(escrow.sink(), treasury);
        _deposit(alice, 1 ether);
        _settle(1, alice, 1 ether);
        assertEq(token.balanceOf(treasury), 1 ether);

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
            vm.expectRevert(abi.encodeWithSelector(InferenceEscrow.InsufficientBalance.selector, alice, deposit, debit));
            _settle(1, alice, debit);
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
}
