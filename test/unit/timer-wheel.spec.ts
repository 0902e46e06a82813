import { jest } from '@jest/globals';
import { TimerTask, TimerWheel } from '../../src/common/timer-wheel.js';

const RES = 10;
const T0 = 1_000_000; // a multiple of RES so slot boundaries are predictable

describe('TimerWheel (fake timers)', () => {
  let errors: unknown[];
  let wheel: TimerWheel;

  beforeEach(() => {
    jest.useFakeTimers({ now: T0 });
    errors = [];
    wheel = new TimerWheel(RES, (err) => errors.push(err), () => Date.now());
  });

  afterEach(() => {
    wheel.clear();
    jest.useRealTimers();
  });

  it('runs tasks in deadline order, not scheduling order', () => {
    const ran: string[] = [];
    wheel.schedule(new TimerTask(() => ran.push('c'), null), T0 + 50);
    wheel.schedule(new TimerTask(() => ran.push('a'), null), T0 + 10);
    wheel.schedule(new TimerTask(() => ran.push('b'), null), T0 + 30);
    jest.advanceTimersByTime(100);
    expect(ran).toEqual(['a', 'b', 'c']);
  });

  it('does not run a task before its deadline; rounds the deadline up to the next slot', () => {
    const run = jest.fn();
    wheel.schedule(new TimerTask(run, null), T0 + 45);
    jest.advanceTimersByTime(40);
    expect(run).not.toHaveBeenCalled();
    jest.advanceTimersByTime(9);
    expect(run).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('never runs a task synchronously, even with a deadline in the past', () => {
    const run = jest.fn();
    wheel.schedule(new TimerTask(run, null), T0 - 5_000);
    expect(run).not.toHaveBeenCalled();
    jest.advanceTimersByTime(RES);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('runs each task once', () => {
    const run = jest.fn();
    wheel.schedule(new TimerTask(run, null), T0 + 20);
    jest.advanceTimersByTime(1_000);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('size counts pending tasks and drops as they run', () => {
    expect(wheel.size).toBe(0);
    wheel.schedule(new TimerTask(() => {}, null), T0 + 10);
    wheel.schedule(new TimerTask(() => {}, null), T0 + 10);
    wheel.schedule(new TimerTask(() => {}, null), T0 + 30);
    expect(wheel.size).toBe(3);
    jest.advanceTimersByTime(10);
    expect(wheel.size).toBe(1);
    jest.advanceTimersByTime(20);
    expect(wheel.size).toBe(0);
  });

  it('cancel prevents the run and updates size; cancelling twice or an unscheduled task is harmless', () => {
    const run = jest.fn();
    const other = jest.fn();
    const task = new TimerTask(run, null);
    wheel.schedule(task, T0 + 20);
    wheel.schedule(new TimerTask(other, null), T0 + 20);
    wheel.cancel(task);
    expect(task.slot).toBeUndefined();
    expect(wheel.size).toBe(1);
    wheel.cancel(task);
    wheel.cancel(new TimerTask(() => {}, null));
    expect(wheel.size).toBe(1);
    jest.advanceTimersByTime(100);
    expect(run).not.toHaveBeenCalled();
    expect(other).toHaveBeenCalledTimes(1);
  });

  it('rescheduling moves the task (later or earlier) without duplicating it', () => {
    const later = jest.fn();
    const earlier = jest.fn();
    const laterTask = new TimerTask(later, null);
    const earlierTask = new TimerTask(earlier, null);
    wheel.schedule(laterTask, T0 + 20);
    wheel.schedule(earlierTask, T0 + 80);
    wheel.schedule(laterTask, T0 + 60);
    wheel.schedule(earlierTask, T0 + 30);
    expect(wheel.size).toBe(2);
    jest.advanceTimersByTime(30);
    expect(later).not.toHaveBeenCalled();
    expect(earlier).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(30);
    expect(later).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(100);
    expect(later).toHaveBeenCalledTimes(1);
    expect(earlier).toHaveBeenCalledTimes(1);
  });

  it('hands the task its owner, so one function serves every task of a kind', () => {
    const seen: string[] = [];
    const shared = (owner: string): void => void seen.push(owner);
    wheel.schedule(new TimerTask(shared, 'a'), T0 + 10);
    wheel.schedule(new TimerTask(shared, 'b'), T0 + 20);
    jest.advanceTimersByTime(100);
    expect(seen).toEqual(['a', 'b']);
  });

  it('a task can reschedule itself from its own run (heartbeat pattern)', () => {
    let runs = 0;
    const task: TimerTask<null> = new TimerTask(() => {
      runs += 1;
      if (runs < 3) wheel.schedule(task, Date.now() + 50);
    }, null);
    wheel.schedule(task, T0 + 50);
    jest.advanceTimersByTime(1_000);
    expect(runs).toBe(3);
    expect(wheel.size).toBe(0);
  });

  it('clear cancels everything; tasks can be scheduled again afterwards', () => {
    const run = jest.fn();
    const tasks = [new TimerTask(run, null), new TimerTask(run, null), new TimerTask(run, null)];
    tasks.forEach((t, i) => wheel.schedule(t, T0 + 10 * (i + 1)));
    wheel.clear();
    expect(wheel.size).toBe(0);
    expect(tasks.every((t) => t.slot === undefined)).toBe(true);
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(1_000);
    expect(run).not.toHaveBeenCalled();
    wheel.schedule(tasks[0]!, Date.now() + 10);
    jest.advanceTimersByTime(10);
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('an error in one task is reported and does not stop the others', () => {
    const boom = new Error('boom');
    const ran: string[] = [];
    wheel.schedule(new TimerTask(() => ran.push('before'), null), T0 + 10);
    wheel.schedule(new TimerTask(() => { throw boom; }, null), T0 + 10);
    wheel.schedule(new TimerTask(() => ran.push('same slot'), null), T0 + 10);
    wheel.schedule(new TimerTask(() => ran.push('later slot'), null), T0 + 20);
    jest.advanceTimersByTime(30);
    expect(errors).toEqual([boom]);
    expect(ran).toEqual(['before', 'same slot', 'later slot']);
    expect(wheel.size).toBe(0);
  });

  it('runs one interval only while tasks are pending and stops it when the last one runs', () => {
    expect(jest.getTimerCount()).toBe(0);
    wheel.schedule(new TimerTask(() => {}, null), T0 + 10);
    wheel.schedule(new TimerTask(() => {}, null), T0 + 20);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(20);
    expect(wheel.size).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('stops the interval when the last pending task is cancelled', () => {
    const task = new TimerTask(() => {}, null);
    wheel.schedule(task, T0 + 100);
    expect(jest.getTimerCount()).toBe(1);
    wheel.cancel(task);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('restarts after going idle and uses the current time as its base', () => {
    const first = jest.fn();
    const second = jest.fn();
    wheel.schedule(new TimerTask(first, null), T0 + 10);
    jest.advanceTimersByTime(10);
    expect(jest.getTimerCount()).toBe(0);
    jest.setSystemTime(T0 + 60_000);
    wheel.schedule(new TimerTask(second, null), T0 + 60_030);
    jest.advanceTimersByTime(20);
    expect(second).not.toHaveBeenCalled();
    jest.advanceTimersByTime(10);
    expect(second).toHaveBeenCalledTimes(1);
    expect(first).toHaveBeenCalledTimes(1);
  });

  it('catches up, in order, on slots missed while the event loop was blocked', () => {
    let offset = 0;
    const clockWheel = new TimerWheel(RES, (err) => errors.push(err), () => Date.now() + offset);
    const ran: number[] = [];
    for (const delay of [30, 10, 70, 50]) clockWheel.schedule(new TimerTask(() => ran.push(delay), null), T0 + delay);
    offset = 200; // the clock jumps ahead before the first tick fires
    jest.advanceTimersByTime(RES);
    expect(ran).toEqual([10, 30, 50, 70]);
    expect(clockWheel.size).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('a task cancelled by an earlier task of the same slot does not run', () => {
    const victim = jest.fn();
    const victimTask = new TimerTask(victim, null);
    wheel.schedule(new TimerTask(() => wheel.cancel(victimTask), null), T0 + 10);
    wheel.schedule(victimTask, T0 + 10);
    jest.advanceTimersByTime(100);
    expect(victim).not.toHaveBeenCalled();
    expect(wheel.size).toBe(0);
  });

  it('a task rescheduled by an earlier task of the same slot runs only at its new time, and stays cancellable', () => {
    const moved = jest.fn();
    const movedTask = new TimerTask(moved, null);
    wheel.schedule(new TimerTask(() => wheel.schedule(movedTask, T0 + 500), null), T0 + 10);
    wheel.schedule(movedTask, T0 + 10);
    jest.advanceTimersByTime(10);
    expect(moved).not.toHaveBeenCalled();
    expect(movedTask.slot).toBeDefined();
    expect(wheel.size).toBe(1);
    wheel.cancel(movedTask);
    jest.advanceTimersByTime(1_000);
    expect(moved).not.toHaveBeenCalled();
    expect(wheel.size).toBe(0);
  });
});

describe('TimerWheel (real timers)', () => {
  it('runs tasks in order with a 10 ms resolution and leaves no timer behind', async () => {
    const errors: unknown[] = [];
    const wheel = new TimerWheel(10, (err) => errors.push(err));
    const ran: string[] = [];
    const done = new Promise<void>((resolve) => {
      const start = Date.now();
      wheel.schedule(new TimerTask(() => ran.push('b'), null), start + 30);
      wheel.schedule(new TimerTask(() => ran.push('a'), null), start + 10);
      wheel.schedule(new TimerTask(() => { throw new Error('x'); }, null), start + 20);
      wheel.schedule(new TimerTask(() => { ran.push('c'); resolve(); }, null), start + 40);
    });
    await done;
    expect(ran).toEqual(['a', 'b', 'c']);
    expect(errors).toHaveLength(1);
    expect(wheel.size).toBe(0);
  });

  it('does not run a cancelled task with real timers', async () => {
    const wheel = new TimerWheel(10, () => {});
    const run = jest.fn();
    const task = new TimerTask(run, null);
    wheel.schedule(task, Date.now() + 10);
    wheel.cancel(task);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(run).not.toHaveBeenCalled();
    expect(wheel.size).toBe(0);
  });
});
