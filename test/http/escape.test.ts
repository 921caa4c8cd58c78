import t from 'tap';
import { escapeMarkup } from '../../src/http/escape.ts';

t.test('the five markup characters become numeric references; everything else stays', async (t) => {
  t.equal(escapeMarkup(`<a href="x">Tom & Jerry's</a>`), '&#60;a href=&#34;x&#34;&#62;Tom &#38; Jerry&#39;s&#60;/a&#62;');
  t.equal(escapeMarkup('plain ünïcödé /path?q=1'), 'plain ünïcödé /path?q=1');
});
