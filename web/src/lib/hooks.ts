// Data hooks: load an API path, optionally re-poll it, expose reload();
// load a dialog's form once; a clock; storage helpers.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  loading: boolean;
  reload: () => void;
}

/** GETs `path` (null: nothing) and re-GETs it every `intervalMs` while mounted. */
export function useApi<T>(path: string | null, intervalMs = 0): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | Error | undefined>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  const pathRef = useRef(path);

  useEffect(() => {
    if (pathRef.current !== path) {
      pathRef.current = path;
      setData(undefined);
    }
    if (path === null) {
      setLoading(false);
      return;
    }
    const ctrl = new AbortController();
    setLoading(true);
    get<T>(path, ctrl.signal)
      .then((d) => {
        setData(d);
        setError(undefined);
      })
      .catch((e) => {
        if (ctrl.signal.aborted) return;
        setError(e);
      })
      .finally(() => {
        if (!ctrl.signal.aborted) setLoading(false);
      });
    return () => ctrl.abort();
  }, [path, tick]);

  useEffect(() => {
    if (!intervalMs || path === null) return;
    const id = window.setInterval(() => {
      if (document.visibilityState !== 'hidden') setTick((n) => n + 1);
    }, intervalMs);
    return () => window.clearInterval(id);
  }, [path, intervalMs]);

  return { data, error, loading, reload };
}

/**
 * Loads a dialog's form once per `path`: GETs it, hands the answer to `init`
 * (the form's first values; a failure goes to `onError`), then moves the focus
 * to the element `focus` (a selector: the form appears only now, the dialog had
 * focused its close button). Returns the answer, null until it came.
 */
export function useFormLoad<T>(path: string, init: (v: T) => void, onError: (e: unknown) => void, focus: string): T | null {
  const [loaded, setLoaded] = useState<T | null>(null);
  useEffect(() => {
    get<T>(path)
      .then((v) => {
        init(v);
        setLoaded(v);
      })
      .catch(onError);
  }, [path]);
  useEffect(() => {
    if (loaded) document.querySelector<HTMLElement>(focus)?.focus();
  }, [loaded]);
  return loaded;
}

/** Re-renders every `ms` (for "x seconds ago" labels). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(id);
  }, [ms]);
  return now;
}

export function loadJson<T>(storage: Storage, key: string, fallback: T): T {
  try {
    const raw = storage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : fallback;
  } catch {
    return fallback;
  }
}
export function saveJson(storage: Storage, key: string, value: unknown) {
  try {
    storage.setItem(key, JSON.stringify(value));
  } catch {
    /* full or disabled */
  }
}
