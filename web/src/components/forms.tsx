// Form pieces shared by the console's pages and dialogs: a labelled select of
// named things (tenants, centers), the cancel/submit row of a dialog, a new
// password with its confirmation, a status notice, and the "created: shown once, copy it now" card.
import type { ComponentChildren } from 'preact';
import { useI18n } from '../i18n';

export interface Named {
  id: string;
  name: string;
}

/** A labelled <select> of `options`, after a first choice `none` with value "" (null: no such choice). */
export function SelectField({ label, value, onChange, options, none = '—', optionLabel, required, hint, testid }: {
  label: string;
  /** A line of help under the select. */
  hint?: string;
  value: string;
  onChange: (id: string) => void;
  options: Named[];
  /** The label of the empty choice ("—", "All"). */
  none?: string | null;
  optionLabel?: (x: Named) => string;
  required?: boolean;
  testid?: string;
}) {
  return (
    <label>
      {label}
      <select required={required} value={value} onChange={(e) => onChange(e.currentTarget.value)} data-testid={testid}>
        {none !== null && <option value="">{none}</option>}
        {options.map((x) => (
          <option key={x.id} value={x.id}>
            {optionLabel ? optionLabel(x) : x.name}
          </option>
        ))}
      </select>
      {hint && <span class="hint">{hint}</span>}
    </label>
  );
}

/** A form's closing row: a secondary button (Cancel by default) and the submit button, off while busy. */
export function FormActions({ submitLabel, busy, disabled, testid, onCancel, cancelLabel }: {
  submitLabel: string;
  busy?: boolean;
  disabled?: boolean;
  testid?: string;
  onCancel?: () => void;
  cancelLabel?: string;
}) {
  const { t } = useI18n();
  return (
    <div class="form-actions">
      {onCancel && (
        <button type="button" class="btn" onClick={onCancel}>
          {cancelLabel ?? t('cancel')}
        </button>
      )}
      <button type="submit" class="btn primary" disabled={busy || disabled} data-testid={testid}>
        {submitLabel}
      </button>
    </div>
  );
}

/** A new password and its confirmation (check them with passwordProblem, lib/accounts.ts). */
export function NewPassword({ password, confirmed, onPassword, onConfirmed, testid, confirmTestid }: {
  password: string;
  confirmed: string;
  onPassword: (v: string) => void;
  onConfirmed: (v: string) => void;
  testid: string;
  confirmTestid: string;
}) {
  const { t } = useI18n();
  return (
    <>
      <label>
        {t('password.new')}
        <input type="password" required minLength={8} autoComplete="new-password" value={password} onInput={(e) => onPassword(e.currentTarget.value)} data-testid={testid} />
      </label>
      <label>
        {t('password.confirm')}
        <input type="password" required minLength={8} autoComplete="new-password" value={confirmed} onInput={(e) => onConfirmed(e.currentTarget.value)} data-testid={confirmTestid} />
      </label>
    </>
  );
}

/** A polite status line ("saved", "deleted"); nothing when `text` is empty. */
export function Notice({ text, testid }: { text: string; testid?: string }) {
  if (!text) return null;
  return (
    <p role="status" class="notice" data-testid={testid}>
      {text}
    </p>
  );
}

/** What was just created and is shown this once (a key's secret, a join command); Done hides it. */
export function ShowOnce({ title, note, testid, onDone, children }: {
  title: string;
  /** "Copy it now: it is not shown again." */
  note: string;
  testid?: string;
  onDone: () => void;
  children: ComponentChildren;
}) {
  const { t } = useI18n();
  return (
    <div class="card notice" role="status" data-testid={testid}>
      <h2>{title}</h2>
      <p>{note}</p>
      {children}
      <button type="button" class="btn small" onClick={onDone}>
        {t('keys.done')}
      </button>
    </div>
  );
}
