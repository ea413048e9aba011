// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title OpenTimelock — the admin of every OpenLedger contract
/// @notice OpenZeppelin TimelockController. PROPOSER_ROLE and CANCELLER_ROLE: the OpenGovernor only;
///         EXECUTOR_ROLE: anyone (address(0)) once the delay has passed; DEFAULT_ADMIN_ROLE: the timelock itself
///         (the deployer's temporary admin is renounced at the end of deployment, checked by the node).
/// @dev Every parameter change, role grant and veto on the other contracts is a Governor proposal that waits
///      `getMinDelay()` seconds here before anyone can execute it.
contract OpenTimelock is TimelockController {
    /// @param minDelay Seconds between queue and execute (≥ 2 days by default on real chains).
    /// @param proposers Accounts allowed to schedule (the Governor).
    /// @param executors Accounts allowed to execute; [address(0)] = anyone.
    /// @param admin Temporary admin for wiring (renounced by the deployer), or address(0).
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
