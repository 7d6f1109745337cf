// The submit sequence of the console's forms and dialogs, in one place:
// mark busy, clear the last error, await the call, keep its error if it
// fails, clear busy either way.
//
//   const submit = useSubmit();
//   const save = (e: Event) => {
//     e.preventDefault();
//     if (bad) return submit.fail(t('limits.bad', ...));   // a check before any call
//     submit.run(async () => { await patch(...); onSaved(); onClose(); });
//   };
//   ... <ErrorBox error={submit.error} /> <button disabled={submit.busy}> ...
//
// run() resolves true when the call succeeded, false when it threw (the error
// is then in `error`); it never rejects. `key` names what is busy when one
// page runs calls for several rows (busyKey === row.id).
import { useState } from 'preact/hooks';

export interface SubmitSetters {
  setBusy: (key: string | null) => void;
  setError: (error: unknown) => void;
}

/** The sequence itself, without Preact state (unit-tested). */
export async function runSubmit(s: SubmitSetters, fn: () => Promise<unknown>, key = ''): Promise<boolean> {
  s.setBusy(key);
  s.setError(null);
  try {
    await fn();
    return true;
  } catch (err) {
    s.setError(err);
    return false;
  } finally {
    s.setBusy(null);
  }
}

export interface Submit {
  /** A call is running. */
  busy: boolean;
  /** The key of the running call (run(fn, key)); null when none runs. */
  busyKey: string | null;
  /** The last call's error (null: none). */
  error: unknown;
  setError: (error: unknown) => void;
  /** Shows `message` as the error without a call (a check that failed). */
  fail: (message: string) => void;
  run: (fn: () => Promise<unknown>, key?: string) => Promise<boolean>;
}

export function useSubmit(): Submit {
  const [busyKey, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  return {
    busy: busyKey !== null,
    busyKey,
    error,
    setError,
    fail: (message) => setError(new Error(message)),
    run: (fn, key) => runSubmit({ setBusy, setError }, fn, key),
  };
}
