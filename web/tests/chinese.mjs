// The "every visible label is Chinese" check of console.test.mjs: the visible
// text of a page, and the English words in it that are not names from the
// platform's data (read through the admin's session), product names or units.
// ---- the Chinese check -------------------------------------------------------
// Visible text: innerText of the body, plus placeholders, titles and
// aria-labels of visible elements.
export async function visibleText(page) {
  return page.evaluate(() => {
    const parts = [document.body.innerText];
    for (const el of document.querySelectorAll('[placeholder], [title], [aria-label]')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      for (const a of ['placeholder', 'title', 'aria-label']) if (el.getAttribute(a)) parts.push(el.getAttribute(a));
    }
    return parts.join('\n');
  });
}
// Words of two or more ASCII letters that are neither names from the
// platform's data nor product names, units or abbreviations.
export function englishWords(text, allowed) {
  const out = new Set();
  for (const m of text.matchAll(/[A-Za-z][A-Za-z0-9._@\/+-]*/g)) {
    const w = m[0].replace(/[._\/-]+$/, '');
    if (!/[A-Za-z]{2}/.test(w)) continue;                     // x, 8x, v1
    if (allowed.has(w) || allowed.has(w.toLowerCase())) continue;
    if (/^[0-9a-f-]{8,}$/i.test(w)) continue;                  // ids, hashes
    if (w.split(/[-_.\/@]/).every((p) => !/[A-Za-z]{2}/.test(p) || allowed.has(p) || allowed.has(p.toLowerCase()))) continue;
    out.add(w);
  }
  return [...out];
}
export async function allowedNames(admin) {
  const names = new Set([
    'scn', 'English', 'CPU', 'GPU', 'NPU', 'API', 'URL', 'ID', 'IP', 'CNY', 'RMB', 'UTC', 'CSV', 'JSON', 'HTTP', 'HTTPS',
    'OpenAI', 'ECharts', 'GiB', 'MiB', 'KiB', 'TiB', 'GB', 'MB', 'KB', 'TB', 'ms', 'GGUF', 'Q4_0', 'Q8_0', 'F16', 'F32',
    'BF16', 'K_M', 'H200', 'H100', 'A100', 'Ascend', 'Xeon', 'EPYC', 'NVIDIA', 'Huawei', 'top_p', 'tokens', 'curl',
    'Bearer', 'DeepSeek', 'Qwen', 'Llama', 'stories', 'R1', 'scheduler', 'agent', 'join', 'token', 'simulate', 'name',
    'state', 'dir', 'sk',
  ]);
  const add = (v) => {
    if (typeof v !== 'string' || !v) return;
    names.add(v);
    for (const p of v.split(/[\s\-_.\/@:]+/)) if (p) names.add(p);
    for (const m of v.matchAll(/[A-Za-z][A-Za-z0-9]*/g)) names.add(m[0]);  // "Intel(R) Xeon(R) ..."
  };
  const walk = (v, key = '') => {
    if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
    else if (/name|model|family|region|username|kind|quant|id|prefix|action|target|address|hostname|reason|url|error/i.test(key)) add(v);
  };
  for (const path of ['/api/v1/pool', '/api/v1/nodes', '/api/v1/centers', '/api/v1/tenants', '/api/v1/users',
    '/api/v1/services', '/api/v1/catalog', '/api/v1/audit?limit=1000', '/api/v1/config', '/api/v1/prices',
    '/api/v1/bills', '/api/v1/requests']) {
    const r = await admin('GET', path);
    if (r.status === 200) walk(r.body);
  }
  return names;
}
