// Small shared widgets: copy button, error box, state badge, modal dialog,
// simulated badge, page header.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { useI18n } from '../i18n';
import { en, type MessageKey } from '../i18n/en';
import { ApiError } from '../lib/api';

export function CopyButton({ text, testid, label }: { text: string; testid?: string; label?: string }) {
  const { t } = useI18n();
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Clipboard API needs a secure context; fall back to a hidden textarea.
      const ta = document.createElement('textarea');
      ta.value = text;
      ta.setAttribute('readonly', '');
      ta.style.position = 'fixed';
      ta.style.opacity = '0';
      document.body.appendChild(ta);
      ta.select();
      try {
        document.execCommand('copy');
      } catch {
        /* nothing more to try */
      }
      ta.remove();
    }
    setDone(true);
    window.setTimeout(() => setDone(false), 1500);
  };
  return (
    <button type="button" class="btn small" onClick={copy} data-testid={testid} aria-label={label ? `${t('copy')}: ${label}` : t('copy')}>
      {done ? t('copied') : t('copy')}
    </button>
  );
}

/** A value shown in a monospace box with a copy button. */
export function CopyField({ value, testid, label }: { value: string; testid?: string; label: string }) {
  return (
    <div class="copy-field">
      <code data-testid={testid} aria-label={label}>
        {value}
      </code>
      <CopyButton text={value} label={label} testid={testid ? `${testid}-copy` : undefined} />
    </div>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!error) return null;
  let text = String(error);
  if (error instanceof ApiError && error.type === 'tenant_suspended') {
    text = t('tenants.suspendedNotice'); // the caller's tenant is suspended (docs/API.md)
  } else if (error instanceof ApiError) {
    text = `${error.status} ${error.message}${error.param ? ` (${error.param})` : ''}`;
  } else if (error instanceof Error) {
    text = error.message;
  }
  return (
    <div class="error" role="alert" data-testid="error">
      <strong>{t('error')}:</strong> {text}
    </div>
  );
}

const STATE_CLASS: Record<string, string> = {
  ready: 'ok',
  active: 'ok',
  running: 'ok',
  present: 'ok',
  pending: 'warn',
  scheduled: 'warn',
  starting: 'warn',
  fetching: 'warn',
  downloading: 'warn',
  draining: 'warn',
  stopping: 'warn',
  degraded: 'warn',
  lost: 'bad',
  failed: 'bad',
  removed: 'bad',
  stopped: 'muted',
  deleted: 'muted',
  revoked: 'muted',
  expired: 'muted',
};

export function StateBadge({ state, testid }: { state: string; testid?: string }) {
  const { t } = useI18n();
  const key = `state.${state}` as MessageKey;
  const label = key in en ? t(key) : state;
  return (
    <span class={`badge ${STATE_CLASS[state] ?? 'muted'}`} data-testid={testid} data-state={state}>
      {label}
    </span>
  );
}

export function SimulatedBadge() {
  const { t } = useI18n();
  return (
    <span class="badge sim" title={t('simulated.help')} data-testid="simulated-badge">
      {t('simulated')}
    </span>
  );
}

export function Modal({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDivElement>(null);
  const { t } = useI18n();
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>('input, select, textarea, button');
    first?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
      if (e.key === 'Tab' && ref.current) {
        const items = Array.from(
          ref.current.querySelectorAll<HTMLElement>('input, select, textarea, button, a[href]'),
        ).filter((x) => !x.hasAttribute('disabled'));
        if (!items.length) return;
        const a = items[0];
        const b = items[items.length - 1];
        if (e.shiftKey && document.activeElement === a) {
          e.preventDefault();
          b.focus();
        } else if (!e.shiftKey && document.activeElement === b) {
          e.preventDefault();
          a.focus();
        }
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      prev?.focus();
    };
  }, []);
  return (
    <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="modal" role="dialog" aria-modal="true" aria-labelledby="modal-title" ref={ref}>
        <div class="modal-head">
          <h2 id="modal-title">{title}</h2>
          <button type="button" class="btn ghost" onClick={onClose} aria-label={t('close')}>
            ×
          </button>
        </div>
        {children}
      </div>
    </div>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="page-head">
      <h1>{title}</h1>
      {children && <div class="page-actions">{children}</div>}
    </div>
  );
}

export function Loading() {
  const { t } = useI18n();
  return (
    <p class="muted" role="status">
      {t('loading')}
    </p>
  );
}
