// Scenario 6 of the browser test (console.test.mjs): accessibility.
// axe-core on every page of each role's menu (read from the menu itself, so a
// new page is checked too), the pages reached from them and the error pages,
// in English and Chinese; keyboard navigation; a 390 px phone.
// `ctx` carries what the test's harness provides: base, newPage, signIn, pw,
// tid, T, check, shot, serviceId and axeCheck (from makeAxeCheck).

export async function accessibilityScenario(ctx) {
  const { base, newPage, signIn, pw, tid, T, check, shot, serviceId, axeCheck } = ctx;
  const roles = [
    ['demo', [`/services/${serviceId}`, '/no-such-page']],
    ['bj-gpu-op', ['/no-such-page']],
    ['admin', [`/services/${serviceId}`, '/chat']],  // /chat: another role's page (forbidden)
  ];
  for (const lang of ['en', 'zh']) {
    const lp = await newPage(lang);
    await lp.goto(`${base}/login`);
    await tid(lp, T.loginSubmit).waitFor();
    await axeCheck(lp, `/login (${lang})`);
    await lp.context().close();
    for (const [user, paths] of roles) {
      const page = await newPage();
      await signIn(page, user, pw(user));
      await tid(page, T.langSwitch).first().selectOption(lang);
      const menu = await page.locator('nav#nav a[data-testid^="nav-"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      check(menu.length >= 2, `${user} has a menu of pages (${menu.join(' ')})`);
      for (const path of [...menu, ...paths]) {
        await page.goto(`${base}${path}`);
        await page.waitForLoadState('networkidle').catch(() => {});
        await page.locator('main h1').first().waitFor();
        await axeCheck(page, `${path} as ${user} (${lang})`);
      }
      await page.context().close();
    }
  }

  // Keyboard: the first Tab reaches the skip link; tabbing on reaches the
  // navigation; Enter on a link opens the page and the focus can go on.
  const page = await newPage();
  await signIn(page, 'admin', pw('admin'));
  await page.goto(`${base}/pool`);
  await page.locator('main h1').waitFor();
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement?.classList.contains('skip')), 'the first Tab stop is "skip to content"');
  let reached = false;
  for (let n = 0; n < 30 && !reached; n++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'nav-prices');
  }
  check(reached, 'Tab reaches the "Prices" link of the navigation');
  const focusVisible = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle !== 'none');
  check(focusVisible, 'the focused link has a visible outline');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/prices$/);
  await tid(page, 'price-form').waitFor();
  check(true, 'Enter on the link opened /prices');
  await page.keyboard.press('Shift+Tab');
  check(await page.evaluate(() => !!document.activeElement && document.activeElement !== document.body),
    'the focus stays on the page after navigating');
  await page.context().close();

  // A phone: the menu is a toggled drawer, nothing wider than the screen.
  for (const [user, paths] of [['demo', ['/catalog', '/bills', '/keys']], ['admin', ['/pool', '/tenants']]]) {
    const ph = await newPage('en', { width: 390, height: 844 });
    await signIn(ph, user, pw(user));
    for (const path of paths) {
      await ph.goto(`${base}${path}`);
      await ph.locator('main h1').first().waitFor();
      await ph.waitForLoadState('networkidle').catch(() => {});
      const { wide, culprits } = await ph.evaluate(() => {
        // The innermost elements reaching past the right edge (not inside a scroll box).
        const out = [];
        for (const el of document.querySelectorAll('body *')) {
          if (el.closest('.table-scroll, .copy-field, pre, .chat-log')) continue;
          const r = el.getBoundingClientRect();
          if (r.right <= window.innerWidth + 1 || r.width === 0) continue;
          if ([...el.children].some((c) => c.getBoundingClientRect().right > window.innerWidth + 1)) continue;
          out.push(`${el.tagName.toLowerCase()}${el.className ? `.${String(el.className).replace(/\s+/g, '.')}` : ''}${el.dataset.testid ? `[${el.dataset.testid}]` : ''} (${Math.round(r.right)} px)`);
        }
        return { wide: document.documentElement.scrollWidth - window.innerWidth, culprits: out.slice(0, 5) };
      });
      check(wide <= 1, `${path} fits a 390 px phone (overflow ${wide} px${culprits.length ? `: ${culprits.join(', ')}` : ''})`);
      await shot(ph, `6-phone-${user}${path.replace(/\//g, '-')}`);
    }
    await ph.locator('.menu-toggle').click();
    await ph.locator('nav#nav.open').waitFor();
    await shot(ph, `6-phone-${user}-menu`);
    await ph.context().close();
  }
}

// axeCheck(page, what): axe-core on the page as it is; a serious or critical
// violation fails `check`, moderate and minor ones are logged. AXE: the path
// of axe-core's script.
export function makeAxeCheck({ AXE, check, log }) {
  return async function axeCheck(page, what) {
    if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.addScriptTag({ path: AXE });
    const { violations, lesser } = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations'] });
      const line = (v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`;
      const grave = (v) => v.impact === 'serious' || v.impact === 'critical';
      return { violations: r.violations.filter(grave).map(line), lesser: r.violations.filter((v) => !grave(v)).map(line) };
    });
    check(violations.length === 0, `axe: no serious or critical violation on ${what}${violations.length ? `:\n    ${violations.join('\n    ')}` : ''}`);
    // Moderate and minor findings are reported, not failed.
    if (lesser.length) log(`axe (moderate/minor) on ${what}:\n    ${lesser.join('\n    ')}`);
  };
}
