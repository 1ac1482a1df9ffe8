// Shows which protocol carries dynamic requests: nginx names it in X-Gatehouse-Protocol on the
// answer of a dynamic path (GET /v3, served by the identity app through the gateway).

function show(protocol, detail) {
  document.getElementById('protocol').textContent = protocol;
  document.getElementById('mode-detail').textContent = detail;
  for (const row of document.querySelectorAll('tr[data-mode]')) {
    row.classList.toggle('current', row.dataset.mode === protocol);
  }
}

for (const node of document.querySelectorAll('.origin')) node.textContent = window.location.origin;

fetch('/v3', { headers: { Accept: 'application/json' } })
  .then(async (response) => {
    const protocol = response.headers.get('X-Gatehouse-Protocol') || 'unknown';
    const body = await response.json();
    const version = body.version || {};
    show(
      protocol,
      `GET /v3 answered ${response.status}: Identity API ${version.id || '?'} (${version.status || '?'}), ` +
        `request ${response.headers.get('X-Request-Id') || '-'}.`,
    );
  })
  .catch((err) => show('unreachable', `The gateway did not answer GET /v3: ${err.message}`));
