// The console's data table: a keyboard-scrollable box, a caption for screen
// readers, one header row of column headings (scope="col"), a row per item,
// an optional "nothing here" row and footer; and the small buttons of a row's
// actions column, each named with the row it acts on.
import type { ComponentChildren } from 'preact';
import { useI18n } from '../i18n';

export interface Column<T> {
  /** The heading. */
  head: ComponentChildren;
  cell: (row: T) => ComponentChildren;
  /** A numeric column: right-aligned heading and cells. */
  num?: boolean;
  /** Extra class of the cells (not the heading), e.g. "mono". */
  class?: string;
  /** The heading is for screen readers only (an actions column). */
  srOnly?: boolean;
  /** A tooltip of the cell. */
  title?: (row: T) => string;
}

export function DataTable<T>({ testid, caption, class: cls, columns, actions, rows, rowKey, rowTestid, empty, foot }: {
  testid?: string;
  /** Read by screen readers only. */
  caption: string;
  class?: string;
  /** Columns; false/null entries (a column shown to some roles only) are left out. */
  columns: (Column<T> | false | null | undefined)[];
  /** The last column, headed "Actions" for screen readers: a row's buttons. */
  actions?: (row: T) => ComponentChildren;
  rows: T[];
  rowKey: (row: T) => string | number;
  rowTestid?: (row: T) => string;
  /** The one row shown when `rows` is empty; null or absent: none. */
  empty?: ComponentChildren;
  /** A <tfoot> row's cells. */
  foot?: ComponentChildren;
}) {
  const { t } = useI18n();
  const cols = columns.filter((c): c is Column<T> => !!c);
  if (actions) cols.push({ head: t('actions'), srOnly: true, cell: (r) => <div class="row-actions">{actions(r)}</div> });
  const cellClass = (c: Column<T>) => [c.num ? 'num' : '', c.class ?? ''].filter(Boolean).join(' ') || undefined;
  return (
    <div class="table-scroll" tabIndex={0}>
      <table data-testid={testid} class={cls}>
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            {cols.map((c, n) => (
              <th scope="col" key={n} class={c.num ? 'num' : undefined}>
                {c.srOnly ? <span class="sr-only">{c.head}</span> : c.head}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && empty !== undefined && empty !== null && (
            <tr>
              <td colSpan={cols.length} class="muted">
                {empty}
              </td>
            </tr>
          )}
          {rows.map((r) => (
            <tr key={rowKey(r)} data-testid={rowTestid?.(r)}>
              {cols.map((c, n) => (
                <td key={n} class={cellClass(c)} title={c.title?.(r)}>
                  {c.cell(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
        {foot && (
          <tfoot>
            <tr>{foot}</tr>
          </tfoot>
        )}
      </table>
    </div>
  );
}

/** A small button in a row's actions column; screen readers hear "label: name". */
export function RowButton({ label, name, onClick, testid, danger, disabled }: {
  label: string;
  /** What the row is (a user name, a key name). */
  name: string;
  onClick: () => void;
  testid?: string;
  danger?: boolean;
  disabled?: boolean;
}) {
  return (
    <button
      type="button"
      class={danger ? 'btn small danger' : 'btn small'}
      disabled={disabled}
      onClick={onClick}
      data-testid={testid}
      aria-label={`${label}: ${name}`}
    >
      {label}
    </button>
  );
}
