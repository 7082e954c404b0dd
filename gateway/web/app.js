// stache web page: talks to the gateway's REST API (/v1/...). Vanilla
// JavaScript, no dependencies, so the page works offline.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const els = {
    styles: $('styles'),
    stylesStatus: $('styles-status'),
    format: $('format'),
    dropzone: $('dropzone'),
    fileInput: $('file-input'),
    limitHint: $('limit-hint'),
    progressRow: $('progress-row'),
    progressLabel: $('progress-label'),
    progress: $('progress'),
    status: $('status'),
    error: $('error'),
    result: $('result'),
    originalImage: $('original-image'),
    resultImage: $('result-image'),
    resultSummary: $('result-summary'),
    download: $('download'),
    reapply: $('reapply'),
    gallery: $('gallery'),
    galleryEmpty: $('gallery-empty'),
    galleryMore: $('gallery-more'),
    galleryRefresh: $('gallery-refresh'),
    infoDetails: $('info-details'),
    infoTable: $('info-table'),
    infoRefresh: $('info-refresh'),
  };

  const state = {
    maxBodyBytes: 0,       // from /v1/info; 0 until known
    lastFile: null,        // for "apply again"
    currentId: null,
    nextPageToken: '',
    uploading: false,
  };

  const GALLERY_PAGE_SIZE = 12;
  // Sent with every request: the gateway counts the session cookie of a
  // state-changing request only with it, which a form on another site
  // cannot send (CSRF).
  const CLIENT_HEADER = { 'X-Stache-Client': 'web' };

  // ---- errors -------------------------------------------------------------

  function formatBytes(bytes) {
    if (bytes >= 1e6) return (bytes / 1e6).toFixed(bytes % 1e6 === 0 ? 0 : 1) + ' MB';
    if (bytes >= 1e3) return Math.round(bytes / 1e3) + ' kB';
    return bytes + ' bytes';
  }

  // A sentence a person can act on, from an HTTP status and the gateway's
  // JSON error body {"error": {"code", "status", "message"}}.
  function describeError(status, body) {
    const message = body && body.error && body.error.message ? body.error.message : '';
    switch (status) {
      case 0:
        return 'The gateway could not be reached, or it closed the connection. ' +
               'Check your network and try again.';
      case 400:
        return 'The request was refused: ' + (message || 'bad request') + '.';
      case 403:
        return 'Only the person who uploaded this photo can delete it.';
      case 404:
        return 'That photo no longer exists.';
      case 413:
        return 'This photo is too large' +
               (state.maxBodyBytes ? ': the limit is ' + formatBytes(state.maxBodyBytes) : '') +
               '. Try a smaller or more compressed photo.';
      case 415:
        return 'That file is not a photo stache can read. Use a JPEG, PNG, WebP, BMP or TIFF image.';
      case 429:
        return (message.indexOf('too many uploads') === 0
          ? 'You have uploaded a lot of photos in a short time.'
          : 'stache is busy right now.') + ' Wait a moment and try again.';
      case 503:
        return 'A stache service is down or restarting' +
               (message ? ' (' + message.split(':')[0] + ')' : '') +
               '. Try again in a moment.';
      case 504:
        return 'The services took too long to answer. Try again in a moment.';
      default:
        return 'Something went wrong (HTTP ' + status + ')' + (message ? ': ' + message : '.');
    }
  }

  function showError(text) {
    els.error.textContent = text;
    els.error.hidden = !text;
  }

  function showStatus(text) {
    els.status.textContent = text;
  }

  async function fetchJson(url, options) {
    let response;
    try {
      const init = Object.assign({}, options);
      init.headers = Object.assign({}, init.headers, CLIENT_HEADER);
      response = await fetch(url, init);
    } catch (e) {
      const error = new Error(describeError(0, null));
      error.status = 0;
      throw error;
    }
    let body = null;
    if (response.status !== 204) {
      try { body = await response.json(); } catch (e) { body = null; }
    }
    if (!response.ok) {
      const error = new Error(describeError(response.status, body));
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // ---- styles -------------------------------------------------------------

  function selectedStyle() {
    const checked = els.styles.querySelector('input[name="style"]:checked');
    return checked ? checked.value : '';
  }

  // Two crossing arrows, for "a different style on every face". Drawn, not
  // an emoji: the page must look the same without any emoji font.
  function shuffleIcon() {
    const svgNs = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(svgNs, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('class', 'no-preview');
    svg.setAttribute('aria-hidden', 'true');
    const path = document.createElementNS(svgNs, 'path');
    path.setAttribute('d', 'M3 7h4c3 0 5 10 8 10h3m0 0-3-3m3 3-3 3M3 17h4c1.3 0 2.4-1.8 3.4-3.8' +
                           'M13.6 10C14.6 8.5 15.6 7 17 7h1m0 0-3-3m3 3-3 3');
    svg.appendChild(path);
    return svg;
  }

  function addStyleOption(value, label, preview, checked) {
    const wrapper = document.createElement('div');
    wrapper.className = 'style-option';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'style';
    input.value = value;
    input.id = 'style-' + (value || 'default');
    input.checked = checked;
    const labelEl = document.createElement('label');
    labelEl.htmlFor = input.id;
    if (preview) {
      const img = document.createElement('img');
      img.src = preview;
      img.alt = '';
      labelEl.appendChild(img);
    } else {
      labelEl.appendChild(shuffleIcon());
    }
    labelEl.appendChild(document.createTextNode(label));
    wrapper.append(input, labelEl);
    els.styles.appendChild(wrapper);
  }

  async function loadStyles() {
    try {
      const body = await fetchJson('/v1/styles');
      const styles = body.styles || [];
      els.stylesStatus.remove();
      styles.forEach((style, index) =>
        addStyleOption(style.name, style.display_name || style.name, style.preview_png, index === 0));
      addStyleOption('random', 'Surprise me', '', styles.length === 0);
    } catch (e) {
      els.stylesStatus.textContent = 'Styles are unavailable (' + e.message +
        ') The default style will be used.';
    }
  }

  // ---- upload -------------------------------------------------------------

  function setUploading(uploading) {
    state.uploading = uploading;
    els.fileInput.disabled = uploading;
    els.reapply.disabled = uploading;
    els.progressRow.hidden = !uploading;
  }

  function upload(file) {
    if (state.uploading || !file) return;
    showError('');
    showStatus('');
    if (file.type && !file.type.startsWith('image/')) {
      showError(describeError(415, null));
      return;
    }
    if (state.maxBodyBytes && file.size > state.maxBodyBytes) {
      // The gateway would answer 413; say so without sending megabytes.
      showError(describeError(413, null));
      return;
    }
    state.lastFile = file;
    const form = new FormData();
    form.append('image', file, file.name || 'photo');
    const style = selectedStyle();
    if (style) form.append('style', style);
    if (els.format.value) form.append('format', els.format.value);

    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/images');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('X-Stache-Client', CLIENT_HEADER['X-Stache-Client']);
    xhr.responseType = 'json';
    xhr.upload.onprogress = (event) => {
      if (!event.lengthComputable) return;
      const percent = Math.round((event.loaded / event.total) * 100);
      els.progress.value = percent;
      els.progressLabel.textContent = percent < 100
        ? 'Uploading… ' + percent + '%'
        : 'Finding faces and drawing mustaches…';
    };
    xhr.upload.onload = () => {
      els.progress.value = 100;
      els.progressLabel.textContent = 'Finding faces and drawing mustaches…';
    };
    xhr.onload = () => {
      setUploading(false);
      if (xhr.status === 201 && xhr.response) {
        showResult(xhr.response, true);
        loadGallery(true);
      } else {
        showError(describeError(xhr.status, xhr.response));
      }
    };
    xhr.onerror = () => {
      setUploading(false);
      showError(describeError(0, null));
    };
    xhr.ontimeout = xhr.onerror;
    els.progress.value = 0;
    els.progressLabel.textContent = 'Uploading… 0%';
    setUploading(true);
    xhr.send(form);
  }

  function extensionFor(contentType) {
    return { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp' }[contentType] || 'img';
  }

  function showResult(record, announce) {
    state.currentId = record.id;
    els.result.hidden = false;
    // "Apply again" re-sends the file uploaded in this visit, so it is only
    // offered next to that upload's result.
    els.reapply.hidden = !(announce && state.lastFile);
    els.originalImage.src = record.original_url;
    els.resultImage.src = record.result_url;
    els.resultImage.dataset.imageId = record.id;
    els.download.href = record.result_url;
    els.download.download = 'stache-' + record.id + '.' + extensionFor(record.result.content_type);
    const faces = record.faces.length;
    const facesText = faces === 0 ? 'No face found, so no mustache this time'
                                  : faces + (faces === 1 ? ' face' : ' faces') + ' found';
    const timings = record.timings_ms || {};
    els.resultSummary.textContent = facesText + ' · style ' + record.style +
      (timings.total ? ' · ' + Math.round(timings.total) + ' ms (detect ' +
        Math.round(timings.detect) + ' ms, draw ' + Math.round(timings.apply) + ' ms)' : '');
    if (announce) showStatus(faces === 0 ? 'Done: no face found.' : 'Done: ' + facesText + '.');
    markCurrentInGallery();
  }

  async function openImage(id) {
    showError('');
    try {
      showResult(await fetchJson('/v1/images/' + encodeURIComponent(id)), false);
      els.result.scrollIntoView({ behavior: 'smooth', block: 'start' });
    } catch (e) {
      showError(e.message);
    }
  }

  // ---- gallery ------------------------------------------------------------

  function markCurrentInGallery() {
    for (const item of els.gallery.children) {
      item.classList.toggle('current', item.dataset.imageId === state.currentId);
    }
  }

  function galleryItem(image, own) {
    const item = document.createElement('li');
    item.className = 'gallery-item';
    item.dataset.imageId = image.id;

    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'gallery-open';
    const created = new Date(image.created_at);
    const when = isNaN(created) ? image.created_at
      : created.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    open.setAttribute('aria-label', 'Show the upload from ' + when);
    const img = document.createElement('img');
    img.src = image.result_url;
    img.alt = '';
    img.loading = 'lazy';
    open.appendChild(img);
    open.addEventListener('click', () => openImage(image.id));

    const meta = document.createElement('div');
    meta.className = 'gallery-meta';
    const text = document.createElement('span');
    text.textContent = (image.face_count === 1 ? '1 face' : image.face_count + ' faces') +
      ' · ' + image.style;
    const time = document.createElement('time');
    time.dateTime = image.created_at;
    time.className = 'muted';
    time.textContent = when;
    meta.append(text, time);
    // The gallery lists only the visitor's own uploads, so each may be
    // deleted; the gateway checks again.
    if (own) {
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'danger';
      remove.textContent = 'Delete';
      remove.setAttribute('aria-label', 'Delete the upload from ' + when);
      remove.addEventListener('click', () => deleteImage(image.id, item, remove));
      meta.append(remove);
    }

    item.append(open, meta);
    return item;
  }

  async function loadGallery(reset) {
    const params = new URLSearchParams({ page_size: String(GALLERY_PAGE_SIZE) });
    if (!reset && state.nextPageToken) params.set('page_token', state.nextPageToken);
    try {
      const body = await fetchJson('/v1/images?' + params.toString());
      if (reset) els.gallery.replaceChildren();
      for (const image of body.images || []) els.gallery.appendChild(galleryItem(image, true));
      state.nextPageToken = body.next_page_token || '';
      els.galleryMore.hidden = !state.nextPageToken;
      els.galleryEmpty.hidden = els.gallery.children.length > 0;
      markCurrentInGallery();
    } catch (e) {
      els.galleryEmpty.hidden = false;
      els.galleryEmpty.textContent = 'The gallery is unavailable: ' + e.message;
    }
  }

  async function deleteImage(id, item, button) {
    if (!window.confirm('Delete this photo and its mustached version?')) return;
    button.disabled = true;
    showError('');
    try {
      await fetchJson('/v1/images/' + encodeURIComponent(id), { method: 'DELETE' });
      const next = item.nextElementSibling || item.previousElementSibling;
      item.remove();
      els.galleryEmpty.hidden = els.gallery.children.length > 0;
      if (state.currentId === id) {
        els.result.hidden = true;
        state.currentId = null;
      }
      showStatus('Deleted.');
      const focusTarget = next ? next.querySelector('button') : els.fileInput;
      focusTarget.focus();
    } catch (e) {
      button.disabled = false;
      showError(e.message);
    }
  }

  // ---- service info -------------------------------------------------------

  // One row per service and version: how many instances answer (the
  // gateway's public /v1/info names no addresses or instances).
  function infoRow(name, entry) {
    const row = document.createElement('tr');
    const health = entry.health || 'UNKNOWN';
    const instances = entry.instances === undefined ? 1 : entry.instances;
    const cells = [
      name,
      health,
      entry.version ? entry.version + (entry.build_id ? ' (' + entry.build_id + ')' : '') : '–',
      instances === 1 ? '1 instance' : instances + ' instances',
    ];
    cells.forEach((value, index) => {
      const cell = document.createElement(index === 0 ? 'th' : 'td');
      if (index === 0) cell.scope = 'row';
      cell.textContent = value;
      if (index === 1) cell.className = 'health ' + (health === 'SERVING' ? 'serving' : 'down');
      if (index === 3) cell.className = 'instance';
      row.appendChild(cell);
    });
    return row;
  }

  async function loadInfo() {
    const body = els.infoTable.tBodies[0];
    try {
      const info = await fetchJson('/v1/info');
      if (info.gateway && info.gateway.max_body_bytes) {
        state.maxBodyBytes = info.gateway.max_body_bytes;
        els.limitHint.textContent = ', up to ' + formatBytes(state.maxBodyBytes);
      }
      body.replaceChildren(infoRow('gateway', info.gateway));
      for (const instance of info.backends || []) body.appendChild(infoRow(instance.name, instance));
    } catch (e) {
      const row = document.createElement('tr');
      const cell = document.createElement('td');
      cell.colSpan = 4;
      cell.textContent = e.message;
      row.appendChild(cell);
      body.replaceChildren(row);
    }
  }

  // ---- wiring -------------------------------------------------------------

  els.fileInput.addEventListener('change', () => {
    const file = els.fileInput.files[0];
    els.fileInput.value = '';  // choosing the same file again still uploads
    upload(file);
  });
  ['dragenter', 'dragover'].forEach((type) =>
    els.dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      els.dropzone.classList.add('dragging');
    }));
  ['dragleave', 'dragend'].forEach((type) =>
    els.dropzone.addEventListener(type, () => els.dropzone.classList.remove('dragging')));
  els.dropzone.addEventListener('drop', (event) => {
    event.preventDefault();
    els.dropzone.classList.remove('dragging');
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) upload(file);
  });
  // Dropping a file elsewhere on the page must not navigate away from it.
  window.addEventListener('dragover', (event) => event.preventDefault());
  window.addEventListener('drop', (event) => event.preventDefault());

  els.reapply.addEventListener('click', () => upload(state.lastFile));
  els.galleryMore.addEventListener('click', () => loadGallery(false));
  els.galleryRefresh.addEventListener('click', () => loadGallery(true));
  els.infoRefresh.addEventListener('click', loadInfo);
  els.infoDetails.addEventListener('toggle', () => { if (els.infoDetails.open) loadInfo(); });

  loadStyles();
  loadGallery(true);
  loadInfo();
})();
