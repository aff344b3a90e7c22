//! Deterministic simulation of a 4-validator chain with crashes, partitions and a Byzantine
//! validator, repeated random crashes and full-network outages. `MEDCHAIN_SIM_SEEDS=n` runs n
//! seeds per scenario (default 3).

use commonware_glue::simulate::engine::EngineDefinition as _;
use commonware_glue::simulate::{
    action::{Action, Crash, Schedule},
    exit::ProcessedHeightAtLeast,
    plan::PlanBuilder,
};
use commonware_p2p::simulated::Link;
use commonware_utils::probability;
use medchain_testing::{Agreement, ProofsVerify, SimEngine};
use std::time::Duration;

fn seeds() -> std::ops::Range<u64> {
    let count = std::env::var("MEDCHAIN_SIM_SEEDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(3);
    0..count
}

/// Heights each scenario must reach on every honest validator; blocks come every ~50 ms of
/// simulated time, so crashes and partitions below happen well before it.
const HEIGHT: u64 = 200;

#[test]
fn four_validators_agree_and_make_progress() {
    PlanBuilder::new(SimEngine::new(4))
        .seeds(seeds())
        .exit_condition(ProcessedHeightAtLeast::new(HEIGHT))
        .property(Agreement { height: HEIGHT })
        .property(ProofsVerify::new(4))
        .timeout(Duration::from_secs(600))
        .run()
        .expect("no fork, progress, proofs verify");
}

#[test]
fn a_crashed_validator_restarts_and_catches_up() {
    let engine = SimEngine::new(4);
    let victim = engine.participants()[1].clone();
    PlanBuilder::new(engine)
        .seeds(seeds())
        .crash(Crash::Schedule(
            Schedule::new()
                .at(Duration::from_secs(1), Action::Crash(victim.clone()))
                .at(Duration::from_secs(4), Action::Restart(victim)),
        ))
        .exit_condition(ProcessedHeightAtLeast::new(HEIGHT))
        .property(Agreement { height: HEIGHT })
        .timeout(Duration::from_secs(600))
        .run()
        .expect("no fork; the restarted validator catches up");
}

#[test]
fn a_partitioned_validator_heals_and_progress_resumes() {
    let engine = SimEngine::new(4);
    let participants = engine.participants();
    let cut = Link {
        latency: Duration::from_secs(1),
        jitter: Duration::ZERO,
        success_rate: probability!(0.0),
    };
    let good = Link {
        latency: Duration::from_millis(10),
        jitter: Duration::from_millis(5),
        success_rate: probability!(1.0),
    };
    let isolated = participants[2].clone();
    let mut schedule = Schedule::new();
    for peer in participants.iter().filter(|peer| **peer != isolated) {
        schedule = schedule
            .at(
                Duration::from_secs(1),
                Action::UpdateLink {
                    from: isolated.clone(),
                    to: peer.clone(),
                    link: cut.clone(),
                },
            )
            .at(
                Duration::from_secs(1),
                Action::UpdateLink {
                    from: peer.clone(),
                    to: isolated.clone(),
                    link: cut.clone(),
                },
            );
    }
    schedule = schedule.at(Duration::from_secs(4), Action::Heal(good));
    PlanBuilder::new(engine)
        .seeds(seeds())
        .crash(Crash::Schedule(schedule))
        .exit_condition(ProcessedHeightAtLeast::new(HEIGHT))
        .property(Agreement { height: HEIGHT })
        .timeout(Duration::from_secs(600))
        .run()
        .expect("no fork; every validator reaches the height after healing");
}

#[test]
fn a_byzantine_validator_cannot_fork_the_chain() {
    PlanBuilder::new(SimEngine::new(4).with_byzantine(3))
        .seeds(seeds())
        .exit_condition(ProcessedHeightAtLeast::new(HEIGHT))
        .property(Agreement { height: HEIGHT })
        .timeout(Duration::from_secs(600))
        .run()
        .expect("no fork with one conflicting voter");
}

#[test]
fn repeated_random_crashes_of_one_validator_at_a_time() {
    PlanBuilder::new(SimEngine::new(4))
        .seeds(seeds())
        .crash(Crash::Random {
            frequency: Duration::from_millis(1_500),
            downtime: Duration::from_secs(1),
            count: 1,
        })
        .exit_condition(ProcessedHeightAtLeast::new(HEIGHT))
        .property(Agreement { height: HEIGHT })
        .timeout(Duration::from_secs(1_200))
        .run()
        .expect("no fork across repeated crashes; everyone reaches the height");
}

#[test]
fn the_whole_network_goes_down_and_comes_back_repeatedly() {
    let engine = SimEngine::new(4);
    let total = engine.participants().len();
    PlanBuilder::new(engine)
        .seeds(seeds())
        // Slower links so the run spans several full outages before the exit height.
        .link(Link {
            latency: Duration::from_millis(100),
            jitter: Duration::from_millis(5),
            success_rate: probability!(1.0),
        })
        .crash(Crash::Random {
            // Outages must leave time for a certificate between them (more than the
            // certification timeout), or no view ever completes.
            frequency: Duration::from_millis(5_000),
            downtime: Duration::from_millis(500),
            count: total,
        })
        .exit_condition(ProcessedHeightAtLeast::new(HEIGHT))
        .property(Agreement { height: HEIGHT })
        .timeout(Duration::from_secs(1_200))
        .run()
        .expect("the chain recovers from full outages with no fork");
}
