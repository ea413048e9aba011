// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Governor} from "@openzeppelin/contracts/governance/Governor.sol";
import {GovernorSettings} from "@openzeppelin/contracts/governance/extensions/GovernorSettings.sol";
import {GovernorCountingSimple} from "@openzeppelin/contracts/governance/extensions/GovernorCountingSimple.sol";
import {GovernorVotes} from "@openzeppelin/contracts/governance/extensions/GovernorVotes.sol";
import {GovernorVotesQuorumFraction} from
    "@openzeppelin/contracts/governance/extensions/GovernorVotesQuorumFraction.sol";
import {GovernorStorage} from "@openzeppelin/contracts/governance/extensions/GovernorStorage.sol";
import {GovernorTimelockControl} from "@openzeppelin/contracts/governance/extensions/GovernorTimelockControl.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";

/// @title OpenGovernor — OPEN holders decide every parameter, role and veto of the OpenLedger contracts
/// @notice OpenZeppelin Governor: proposals by holders with ≥ proposalThreshold votes, a voting delay and period
///         (seconds: OPEN's clock is the timestamp), simple counting (against / for / abstain), quorum as a
///         fraction of the supply, and execution through the OpenTimelock (the admin of every contract).
///         GovernorStorage keeps every proposal's actions on chain: `queue(id)` / `execute(id)` by id, and
///         `proposalCount()` / `proposalDetailsAt(i)` let the node list proposals without scanning logs.
/// @dev Beyond OZ's own checks (GovernorInvalidProposalLength for empty or unequal arrays), `propose` refuses an
///      action whose target has no code (ProposalTargetHasNoCode) or whose calldata is neither empty nor at least a
///      4-byte selector (ProposalCalldataMalformed): a malformed action cannot waste a vote and a timelock slot.
contract OpenGovernor is
    Governor,
    GovernorSettings,
    GovernorCountingSimple,
    GovernorVotes,
    GovernorVotesQuorumFraction,
    GovernorStorage,
    GovernorTimelockControl
{
    error ProposalTargetHasNoCode(uint256 index, address target);
    error ProposalCalldataMalformed(uint256 index, uint256 length);

    /// @param token OPEN (IVotes, timestamp clock).
    /// @param timelock The OpenTimelock that executes passed proposals.
    /// @param votingDelay_ Seconds from proposal to the start of voting (the vote snapshot).
    /// @param votingPeriod_ Seconds voting stays open.
    /// @param proposalThreshold_ Votes (OPEN wei) needed to propose.
    /// @param quorumPercent Quorum as a percentage of the total supply at the snapshot.
    constructor(
        IVotes token,
        TimelockController timelock,
        uint48 votingDelay_,
        uint32 votingPeriod_,
        uint256 proposalThreshold_,
        uint256 quorumPercent
    )
        Governor("OpenGovernor")
        GovernorSettings(votingDelay_, votingPeriod_, proposalThreshold_)
        GovernorVotes(token)
        GovernorVotesQuorumFraction(quorumPercent)
        GovernorTimelockControl(timelock)
    {}

    /// @inheritdoc Governor
    function propose(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        string memory description
    ) public override returns (uint256) {
        if (targets.length == calldatas.length) {
            for (uint256 i = 0; i < targets.length; i++) {
                if (targets[i].code.length == 0) revert ProposalTargetHasNoCode(i, targets[i]);
                uint256 n = calldatas[i].length;
                if (n != 0 && n < 4) revert ProposalCalldataMalformed(i, n);
            }
        }
        return super.propose(targets, values, calldatas, description);
    }

    // ---- required overrides ----

    function state(uint256 proposalId) public view override(Governor, GovernorTimelockControl) returns (ProposalState) {
        return super.state(proposalId);
    }

    function proposalNeedsQueuing(uint256 proposalId)
        public
        view
        override(Governor, GovernorTimelockControl)
        returns (bool)
    {
        return super.proposalNeedsQueuing(proposalId);
    }

    function _propose(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        string memory description,
        address proposer
    ) internal override(Governor, GovernorStorage) returns (uint256) {
        return super._propose(targets, values, calldatas, description, proposer);
    }

    function proposalThreshold() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.proposalThreshold();
    }

    function _queueOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint48) {
        return super._queueOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    function _executeOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) {
        super._executeOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    function _cancel(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint256) {
        return super._cancel(targets, values, calldatas, descriptionHash);
    }

    function _executor() internal view override(Governor, GovernorTimelockControl) returns (address) {
        return super._executor();
    }
}
