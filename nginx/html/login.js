// The login form: a password-method, project-scoped token request from the browser, and what came back.

const form = document.getElementById('login');
const result = document.getElementById('result');

function fact(list, name, value) {
  const dt = document.createElement('dt');
  dt.textContent = name;
  const dd = document.createElement('dd');
  dd.textContent = value;
  list.append(dt, dd);
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const domain = { name: data.get('domain') };
  const request = {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: data.get('username'), domain, password: data.get('password') } },
      },
      scope: { project: { name: data.get('project'), domain } },
    },
  };
  const title = document.getElementById('result-title');
  const facts = document.getElementById('result-facts');
  const body = document.getElementById('result-body');
  facts.replaceChildren();
  result.hidden = false;
  result.className = 'card';
  title.textContent = 'Asking…';
  try {
    const response = await fetch('/v3/auth/tokens', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(request),
    });
    const text = await response.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {}
    body.textContent = json ? JSON.stringify(json, null, 2) : text;
    if (response.status === 201 && json?.token) {
      const token = json.token;
      result.classList.add('ok');
      title.textContent = `Logged in as ${token.user?.name} (201 Created)`;
      // The console and the pool page use it; it lasts as long as this tab.
      sessionStorage.setItem('gatehouse.token', response.headers.get('X-Subject-Token') || '');
      fact(facts, 'Token', response.headers.get('X-Subject-Token') || '-');
      fact(facts, 'Next', 'the identity console: /console.html');
      fact(facts, 'Project', `${token.project?.name} (${token.project?.id})`);
      fact(facts, 'Roles', (token.roles || []).map((r) => r.name).join(', ') || '-');
      fact(facts, 'Expires', token.expires_at);
      fact(facts, 'Catalog', `${(token.catalog || []).length} services`);
    } else {
      const error = json?.error;
      result.classList.add('error');
      title.textContent = error
        ? `${error.code} ${error.title}`
        : `${response.status} ${response.statusText}`;
      fact(facts, 'Message', error?.message || text.slice(0, 200));
    }
    fact(facts, 'Carried over', response.headers.get('X-Gatehouse-Protocol') || '-');
    fact(facts, 'Request id', response.headers.get('X-Request-Id') || '-');
  } catch (err) {
    result.classList.add('error');
    title.textContent = 'No answer';
    fact(facts, 'Error', err.message);
  }
});
