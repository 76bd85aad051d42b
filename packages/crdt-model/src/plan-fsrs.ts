/**
 * The FSRS scheduler the practice plan replays reviews with: `ts-fsrs`'s own algorithm, set up
 * for facts that must give the same plan on every device, with its parameters read from a plain
 * object.
 */
import { FSRSAlgorithm, generatorParameters, type FSRSParameters } from 'ts-fsrs';

/**
 * `ts-fsrs`'s algorithm with its parameters in a plain frozen object. `FSRSAlgorithm` keeps them
 * behind a Proxy so that assigning one recomputes what depends on it; the plan never assigns
 * them, and a Proxy read in every formula step made replaying a year of reviews nearly twice as
 * slow. The formulas are the library's, unchanged.
 */
class FrozenParametersFSRS extends FSRSAlgorithm {
  constructor(params: FSRSParameters) {
    super(params);
    this.param = Object.freeze({ ...this.param });
  }
}

/** The parameters of the plan's scheduler for a requested retention (0.5–1). */
export function planSchedulerParameters(requestRetention: number): FSRSParameters {
  return generatorParameters({
    request_retention: requestRetention,
    // Fuzz randomises intervals; short-term steps schedule in minutes. Neither fits facts that
    // must give the same plan everywhere, once a day.
    enable_fuzz: false,
    enable_short_term: false,
    learning_steps: [],
    relearning_steps: [],
  });
}

/** The plan's scheduler: `ts-fsrs` with {@link planSchedulerParameters}, parameters frozen. */
export function planScheduler(requestRetention: number): FSRSAlgorithm {
  return new FrozenParametersFSRS(planSchedulerParameters(requestRetention));
}
