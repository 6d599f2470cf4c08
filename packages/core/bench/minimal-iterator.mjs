/**
 * The cost of the async-iterator protocol itself: the simplest completion-order async iterator that
 * keeps `limit` tasks running (a queue of results, one waiter), with no options, no cleanup, no
 * early exit, no error handling.
 */
export function minimalIterator(tasks, limit) {
  const iterator = tasks[Symbol.iterator]();
  let results = [];
  let head = 0;
  let waiter;
  let running = 0;
  let isDone = false;
  const pump = () => {
    while (!isDone && running < limit) {
      const step = iterator.next();
      if (step.done) isDone = true;
      else {
        running++;
        step.value().then(onValue);
      }
    }
    if (isDone && running === 0 && waiter !== undefined && head === results.length) {
      const resolve = waiter;
      waiter = undefined;
      resolve({ value: undefined, done: true });
    }
  };
  const onValue = (value) => {
    running--;
    if (waiter === undefined) results.push(value);
    else {
      const resolve = waiter;
      waiter = undefined;
      resolve({ value, done: false });
    }
    pump();
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      if (head < results.length) {
        const value = results[head++];
        if (head === results.length) {
          results = [];
          head = 0;
        }
        pump();
        return Promise.resolve({ value, done: false });
      }
      if (isDone && running === 0) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => {
        waiter = resolve;
        pump();
      });
    },
  };
}
