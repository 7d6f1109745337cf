// Language state of the console: one dictionary per language (en.ts, zh.ts
// with the same keys), the choice persisted in localStorage, and Intl-based
// formatting of dates, numbers, bytes and CNY for the chosen locale.
import { createContext } from 'preact';
import { useContext, useMemo, useState, useEffect } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { en, type MessageKey } from './en';
import { zh } from './zh';

export type Lang = 'en' | 'zh';
export const dictionaries: Record<Lang, Record<MessageKey, string>> = { en, zh };
const STORAGE_KEY = 'scn.lang';

export function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'en' || saved === 'zh') return saved;
  } catch {
    /* storage disabled */
  }
  return navigator.language?.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

/** Replaces {name} placeholders. */
export function interpolate(text: string, vars?: Record<string, string | number>): string {
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

export interface I18n {
  lang: Lang;
  locale: string;
  setLang: (l: Lang) => void;
  t: (key: MessageKey, vars?: Record<string, string | number>) => string;
  num: (n: number, digits?: number) => string;
  cny: (n: number) => string;
  date: (iso: string | null | undefined) => string;
  bytes: (n: number) => string;
  count: (n: number) => string;
  ago: (iso: string | null | undefined, now?: number) => string;
}

export function makeI18n(lang: Lang, setLang: (l: Lang) => void): I18n {
  const locale = lang === 'zh' ? 'zh-CN' : 'en-US';
  const dict = dictionaries[lang];
  const nf = new Intl.NumberFormat(locale);
  const cf = new Intl.NumberFormat(locale, { style: 'currency', currency: 'CNY', maximumFractionDigits: 4 });
  const df = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium' });
  const compact = new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 });
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  return {
    lang,
    locale,
    setLang,
    t: (key, vars) => interpolate(dict[key] ?? en[key] ?? key, vars),
    num: (n, digits) =>
      digits === undefined ? nf.format(n) : new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(n),
    cny: (n) => cf.format(n),
    date: (iso) => (iso ? df.format(new Date(iso)) : '—'),
    count: (n) => compact.format(n),
    bytes: (n) => {
      const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
      let v = n;
      let i = 0;
      while (Math.abs(v) >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
      }
      return `${new Intl.NumberFormat(locale, { maximumFractionDigits: i === 0 ? 0 : 1 }).format(v)} ${units[i]}`;
    },
    ago: (iso, now = Date.now()) => {
      if (!iso) return '—';
      const s = Math.round((new Date(iso).getTime() - now) / 1000);
      if (Math.abs(s) < 60) return rtf.format(s, 'second');
      if (Math.abs(s) < 3600) return rtf.format(Math.round(s / 60), 'minute');
      if (Math.abs(s) < 86400) return rtf.format(Math.round(s / 3600), 'hour');
      return rtf.format(Math.round(s / 86400), 'day');
    },
  };
}

const Ctx = createContext<I18n>(makeI18n('en', () => {}));

export function I18nProvider({ children }: { children: ComponentChildren }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const setLang = (l: Lang) => {
    try {
      localStorage.setItem(STORAGE_KEY, l);
    } catch {
      /* ignore */
    }
    setLangState(l);
  };
  useEffect(() => {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  }, [lang]);
  const value = useMemo(() => makeI18n(lang, setLang), [lang]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export const useI18n = () => useContext(Ctx);
