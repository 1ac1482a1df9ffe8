// The identity console: the token from the login page (sessionStorage), the API from the browser.
// Errors are shown as the API words them: "code title: message".

const token = sessionStorage.getItem('gatehouse.token');
const $ = (id) => document.getElementById(id);
let me = null;

class ApiError extends Error {}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: {
      'X-Auth-Token': token,
      Accept: 'application/json',
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (response.status === 204) return null;
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  if (!response.ok) {
    const e = json?.error;
    throw new ApiError(
      e ? `${e.code} ${e.title}: ${e.message}` : `${response.status} ${response.statusText}`,
    );
  }
  return json;
}

function showError(err) {
  $('error').textContent = err instanceof ApiError ? err.message : `No answer: ${err.message}`;
  $('error').hidden = false;
  $('notice').hidden = true;
}
function notice(text) {
  $('notice').textContent = text;
  $('notice').hidden = false;
  $('error').hidden = true;
}
/** Runs an action; whatever the API says when it fails is shown. */
const guarded = (action) => async (event) => {
  event?.preventDefault();
  try {
    await action(event);
  } catch (err) {
    showError(err);
  }
};

function row(cells, actions = []) {
  const tr = document.createElement('tr');
  for (const value of cells) {
    const td = document.createElement('td');
    td.textContent = String(value);
    tr.append(td);
  }
  const td = document.createElement('td');
  for (const [label, handler] of actions) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = label;
    button.addEventListener('click', guarded(handler));
    td.append(button);
  }
  tr.append(td);
  return tr;
}

function options(select, items) {
  select.replaceChildren(
    ...items.map((item) => {
      const option = document.createElement('option');
      option.value = item.id;
      option.textContent = item.name;
      return option;
    }),
  );
}

async function loadMine() {
  const { projects } = await api('GET', `/v3/users/${me.user.id}/projects`);
  $('my-projects').replaceChildren(...projects.map((p) => row([p.name, p.id, p.enabled])));
  $('my-roles').textContent = (me.roles ?? []).map((r) => r.name).join(', ') || 'none';
  const { application_credentials: creds } = await api(
    'GET',
    `/v3/users/${me.user.id}/application_credentials`,
  );
  $('appcreds').replaceChildren(
    ...creds.map((c) =>
      row(
        [c.name, c.id, c.expires_at ?? 'never'],
        [
          [
            'Delete',
            async () => {
              await api('DELETE', `/v3/users/${me.user.id}/application_credentials/${c.id}`);
              $('appcred-secret').hidden = true;
              notice(`Application credential ${c.name} deleted.`);
              await loadMine();
            },
          ],
        ],
      ),
    ),
  );
}

async function loadAdmin() {
  const [{ users }, { projects }, { roles }, { role_assignments: assignments }] = await Promise.all([
    api('GET', '/v3/users'),
    api('GET', '/v3/projects'),
    api('GET', '/v3/roles'),
    api('GET', '/v3/role_assignments?include_names=true'),
  ]);
  const toggle = (kind, item) => [
    item.enabled ? 'Disable' : 'Enable',
    async () => {
      await api('PATCH', `/v3/${kind}s/${item.id}`, { [kind]: { enabled: !item.enabled } });
      notice(`${kind} ${item.name} ${item.enabled ? 'disabled' : 'enabled'}.`);
      await loadAdmin();
    },
  ];
  const remove = (kind, item) => [
    'Delete',
    async () => {
      await api('DELETE', `/v3/${kind}s/${item.id}`);
      notice(`${kind} ${item.name} deleted.`);
      await loadAdmin();
    },
  ];
  $('users').replaceChildren(
    ...users.map((u) => row([u.name, u.id, u.enabled], [toggle('user', u), remove('user', u)])),
  );
  $('projects').replaceChildren(
    ...projects.map((p) => row([p.name, p.id, p.enabled], [toggle('project', p), remove('project', p)])),
  );
  options($('grant-user'), users);
  options($('grant-role'), roles);
  options($('grant-project'), projects);
  $('assignments').replaceChildren(
    ...assignments.map((a) => {
      const target = a.scope?.project
        ? `project ${a.scope.project.name}`
        : a.scope?.domain
          ? `domain ${a.scope.domain.name}`
          : 'system';
      const who = a.user?.name ?? `group ${a.group?.name}`;
      const actions = [];
      if (a.user && a.scope?.project)
        actions.push([
          'Revoke',
          async () => {
            await api('DELETE', `/v3/projects/${a.scope.project.id}/users/${a.user.id}/roles/${a.role.id}`);
            notice(`Role ${a.role.name} revoked from ${who}.`);
            await loadAdmin();
          },
        ]);
      const tr = row([who, a.role.name, target], actions);
      tr.dataset.assignment = `${who}|${a.role.name}|${target}`;
      return tr;
    }),
  );
}

$('appcred-form').addEventListener(
  'submit',
  guarded(async () => {
    const name = new FormData($('appcred-form')).get('name');
    const { application_credential: c } = await api(
      'POST',
      `/v3/users/${me.user.id}/application_credentials`,
      {
        application_credential: { name },
      },
    );
    $('appcred-secret-value').textContent = c.secret;
    $('appcred-secret').hidden = false;
    $('appcred-form').reset();
    notice(`Application credential ${c.name} created.`);
    await loadMine();
  }),
);
$('user-form').addEventListener(
  'submit',
  guarded(async () => {
    const data = new FormData($('user-form'));
    const user = { name: data.get('name'), domain_id: 'default' };
    if (data.get('password')) user.password = data.get('password');
    await api('POST', '/v3/users', { user });
    $('user-form').reset();
    notice(`User ${user.name} created.`);
    await loadAdmin();
  }),
);
$('project-form').addEventListener(
  'submit',
  guarded(async () => {
    const name = new FormData($('project-form')).get('name');
    await api('POST', '/v3/projects', { project: { name, domain_id: 'default' } });
    $('project-form').reset();
    notice(`Project ${name} created.`);
    await loadAdmin();
  }),
);
$('grant-form').addEventListener(
  'submit',
  guarded(async () => {
    const data = new FormData($('grant-form'));
    await api(
      'PUT',
      `/v3/projects/${data.get('project')}/users/${data.get('user')}/roles/${data.get('role')}`,
    );
    notice('Role granted.');
    await loadAdmin();
  }),
);
$('logout').addEventListener('click', () => {
  sessionStorage.removeItem('gatehouse.token');
  location.href = '/login.html';
});

guarded(async () => {
  if (!token) {
    $('who').textContent = 'Not logged in: get a token on the login page first.';
    return;
  }
  const response = await fetch('/v3/auth/tokens', {
    headers: { 'X-Auth-Token': token, 'X-Subject-Token': token, Accept: 'application/json' },
  });
  const json = await response.json().catch(() => null);
  if (!response.ok) {
    const e = json?.error;
    throw new ApiError(
      e ? `${e.code} ${e.title}: ${e.message}` : `${response.status} ${response.statusText}`,
    );
  }
  me = json.token;
  $('who').textContent =
    `${me.user.name} on project ${me.project?.name ?? '-'}, token expires ${me.expires_at}`;
  $('mine').hidden = false;
  await loadMine();
  if ((me.roles ?? []).some((r) => r.name === 'admin')) {
    $('admin').hidden = false;
    await loadAdmin();
  }
  document.body.dataset.ready = 'true';
})();
