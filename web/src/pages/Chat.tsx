import { useEffect, useRef, useState } from 'preact/hooks';
import { useI18n } from '../i18n';
import { loadJson, saveJson, useApi } from '../lib/hooks';
import { post, type ApiKey, type List, type Service } from '../lib/api';
import { splitThink, streamChat, tokensPerSecond, type ChatMessage, type ChatParams, type Usage } from '../lib/chat';
import { useQuery } from '../lib/router';
import { ErrorBox, PageHeader } from '../components/ui';

const KEY_STORAGE = 'scn.playground.key';
interface Turn extends ChatMessage {
  usage?: Usage | null;
  tps?: number | null;
  stopped?: boolean;
}
interface Conversation {
  system: string;
  params: ChatParams;
  turns: Turn[];
}
const emptyConversation = (): Conversation => ({ system: '', params: { temperature: 0.7, top_p: 0.95, max_tokens: 256 }, turns: [] });
const convKey = (serviceId: string) => `scn.chat.${serviceId}`;

function AssistantText({ text, think, streaming }: { text: string; think: boolean; streaming: boolean }) {
  const { t } = useI18n();
  const s = splitThink(text, think && streaming && !text.includes('</think>'));
  return (
    <>
      {s.reasoning && (
        <details class="reasoning" data-testid="chat-reasoning" open={s.thinking}>
          <summary>{s.thinking ? t('chat.thinking') : t('chat.reasoning')}</summary>
          <div class="pre">{s.reasoning}</div>
        </details>
      )}
      <div class="pre" data-testid="chat-answer">
        {s.answer}
      </div>
    </>
  );
}

export function ChatPage() {
  const i = useI18n();
  const { t } = i;
  const query = useQuery();
  const services = useApi<List<Service>>('/api/v1/services', 5000);
  const ready = (services.data?.data ?? []).filter((s) => s.status === 'ready' || s.replicas_ready > 0);
  const [serviceId, setServiceId] = useState(query.get('service') ?? '');
  const [apiKey, setApiKey] = useState(() => sessionStorage.getItem(KEY_STORAGE) ?? '');
  const [keyDraft, setKeyDraft] = useState('');
  const [conv, setConv] = useState<Conversation>(emptyConversation);
  const [input, setInput] = useState('');
  const [streaming, setStreaming] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const abort = useRef<AbortController | null>(null);
  const log = useRef<HTMLDivElement>(null);

  const service = ready.find((s) => s.id === serviceId);
  useEffect(() => {
    if (!serviceId && ready.length) setServiceId(ready[0].id);
  }, [ready.length]);
  useEffect(() => {
    if (serviceId) setConv(loadJson(localStorage, convKey(serviceId), emptyConversation()));
  }, [serviceId]);
  useEffect(() => {
    log.current?.scrollTo({ top: log.current.scrollHeight });
  }, [conv.turns.length, streaming]);
  useEffect(() => () => abort.current?.abort(), []);

  const update = (c: Conversation) => {
    setConv(c);
    if (serviceId) saveJson(localStorage, convKey(serviceId), c);
  };
  const saveKey = (k: string) => {
    sessionStorage.setItem(KEY_STORAGE, k);
    setApiKey(k);
  };
  const createKey = async () => {
    setError(null);
    try {
      const k = await post<ApiKey>('/api/v1/api-keys', { name: `playground-${new Date().toISOString().slice(0, 19)}`, expires_in_seconds: 86400 });
      if (k.key) saveKey(k.key);
    } catch (e) {
      setError(e);
    }
  };

  const send = async (e: Event) => {
    e.preventDefault();
    if (!service || !input.trim() || streaming !== null) return;
    setError(null);
    const turns: Turn[] = [...conv.turns, { role: 'user', content: input }];
    const base = { ...conv, turns };
    update(base);
    setInput('');
    const messages: ChatMessage[] = [
      ...(conv.system.trim() ? [{ role: 'system' as const, content: conv.system }] : []),
      ...turns.map(({ role, content }) => ({ role, content })),
    ];
    const ctrl = new AbortController();
    abort.current = ctrl;
    setStreaming('');
    let partial = '';
    try {
      const r = await streamChat({
        apiKey,
        model: service.name,
        messages,
        params: conv.params,
        signal: ctrl.signal,
        onText: (text) => {
          partial = text;
          setStreaming(text);
        },
      });
      update({ ...base, turns: [...turns, { role: 'assistant', content: r.text, usage: r.usage, tps: tokensPerSecond(r) }] });
    } catch (err) {
      if (ctrl.signal.aborted) {
        update({ ...base, turns: [...turns, { role: 'assistant', content: partial, stopped: true }] });
      } else {
        setError(err);
      }
    } finally {
      setStreaming(null);
      abort.current = null;
    }
  };

  const think = !!service && /deepseek-r1|qwq|think/i.test(service.model);
  const setParam = (p: Partial<ChatParams>) => update({ ...conv, params: { ...conv.params, ...p } });

  return (
    <section class="chat-page">
      <PageHeader title={t('chat.title')} />
      <div class="chat-layout">
        <aside class="card chat-settings">
          <label>
            {t('chat.service')}
            <select value={serviceId} data-testid="chat-service" onChange={(e) => setServiceId(e.currentTarget.value)}>
              {ready.length === 0 && <option value="">{t('chat.noService')}</option>}
              {ready.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name} ({s.model})
                </option>
              ))}
            </select>
          </label>
          {apiKey ? (
            <p class="small">
              {t('chat.keySet', { prefix: apiKey.slice(0, 12) })}{' '}
              <button type="button" class="btn small" onClick={() => saveKey('')} data-testid="chat-key-clear">
                {t('chat.keyForget')}
              </button>
            </p>
          ) : (
            <div class="key-box" data-testid="chat-key-box">
              <p class="small">{t('chat.keyNeeded')}</p>
              <label>
                {t('chat.pasteKey')}
                <input
                  type="password"
                  autoComplete="off"
                  value={keyDraft}
                  data-testid="chat-key-input"
                  onInput={(e) => setKeyDraft(e.currentTarget.value)}
                />
              </label>
              <div class="form-actions">
                <button type="button" class="btn" disabled={!keyDraft.trim()} onClick={() => saveKey(keyDraft.trim())} data-testid="chat-key-save">
                  {t('chat.useKey')}
                </button>
                <button type="button" class="btn primary" onClick={createKey} data-testid="chat-key-create">
                  {t('chat.createKey')}
                </button>
              </div>
            </div>
          )}
          <label>
            {t('chat.system')}
            <textarea rows={3} value={conv.system} data-testid="chat-system" onInput={(e) => update({ ...conv, system: e.currentTarget.value })} />
          </label>
          <label>
            {t('chat.temperature')}: {i.num(conv.params.temperature, 2)}
            <input type="range" min={0} max={2} step={0.05} value={conv.params.temperature} data-testid="chat-temperature" onInput={(e) => setParam({ temperature: Number(e.currentTarget.value) })} />
          </label>
          <label>
            {t('chat.topP')}: {i.num(conv.params.top_p, 2)}
            <input type="range" min={0} max={1} step={0.01} value={conv.params.top_p} data-testid="chat-top-p" onInput={(e) => setParam({ top_p: Number(e.currentTarget.value) })} />
          </label>
          <label>
            {t('chat.maxTokens')}
            <input type="number" min={1} max={service?.context_length ?? 32768} value={conv.params.max_tokens} data-testid="chat-max-tokens" onInput={(e) => setParam({ max_tokens: Number(e.currentTarget.value) })} />
          </label>
          <button type="button" class="btn" onClick={() => update({ ...conv, turns: [] })} data-testid="chat-clear">
            {t('chat.clear')}
          </button>
        </aside>
        <div class="chat-main card">
          <div class="chat-log" ref={log} aria-live="polite" data-testid="chat-log">
            {conv.turns.length === 0 && streaming === null && <p class="muted">{t('chat.empty')}</p>}
            {conv.turns.map((m, idx) => (
              <div key={idx} class={`msg ${m.role}`} data-testid={`chat-msg-${m.role}`}>
                <span class="who">{m.role === 'user' ? t('chat.you') : t('chat.assistant')}</span>
                {m.role === 'assistant' ? <AssistantText text={m.content} think={think} streaming={false} /> : <div class="pre">{m.content}</div>}
                {m.role === 'assistant' && (m.usage || m.stopped) && (
                  <p class="small muted" data-testid="chat-stats">
                    {m.usage &&
                      t('chat.stats', {
                        prompt: i.num(m.usage.prompt_tokens),
                        completion: i.num(m.usage.completion_tokens),
                      })}
                    {m.tps ? ` · ${t('chat.tps', { n: i.num(m.tps, 1) })}` : ''}
                    {m.stopped ? ` ${t('chat.stopped')}` : ''}
                  </p>
                )}
              </div>
            ))}
            {streaming !== null && (
              <div class="msg assistant streaming" data-testid="chat-streaming">
                <span class="who">{t('chat.assistant')}</span>
                <AssistantText text={streaming} think={think} streaming />
              </div>
            )}
          </div>
          <ErrorBox error={error} />
          <form class="chat-input" onSubmit={send}>
            <label class="grow">
              <span class="sr-only">{t('chat.message')}</span>
              <textarea
                rows={2}
                value={input}
                placeholder={t('chat.placeholder')}
                data-testid="chat-input"
                onInput={(e) => setInput(e.currentTarget.value)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) send(e);
                }}
              />
            </label>
            {streaming !== null ? (
              <button type="button" class="btn danger" onClick={() => abort.current?.abort()} data-testid="chat-stop">
                {t('chat.stop')}
              </button>
            ) : (
              <button type="submit" class="btn primary" disabled={!service || !apiKey || !input.trim()} data-testid="chat-send">
                {t('chat.send')}
              </button>
            )}
          </form>
        </div>
      </div>
    </section>
  );
}
