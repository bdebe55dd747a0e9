import functions from '@azure/functions';
import type { Timer } from '@azure/functions';

const { InvocationContext } = functions;

export type TimerHandler = (timer: Timer, context: functions.InvocationContext) => Promise<void>;

/**
 * Fires a timer trigger handler once, with the `Timer` object and context shape the host passes. What the handler
 * logs through its context goes to `log` (the host would send it to Application Insights).
 */
export async function fireTimer(functionName: string, handler: TimerHandler, now: Date = new Date(), log: (message: string) => void = () => {}): Promise<void> {
  const timer: Timer = {
    isPastDue: false,
    schedule: { adjustForDST: false },
    scheduleStatus: { last: now.toISOString(), next: now.toISOString(), lastUpdated: now.toISOString() },
  };
  await handler(timer, new InvocationContext({ invocationId: `${functionName}-${now.getTime()}`, functionName, logHandler: (_level, ...args) => log(args.map(String).join(' ')) }));
}
