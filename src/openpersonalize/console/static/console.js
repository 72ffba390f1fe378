// The tracker page's live event stream (server-sent events). Values are set with textContent: never parsed as HTML.
(function () {
  var body = document.getElementById("latest");
  if (!body || !window.EventSource) { return; }
  var source = new EventSource(body.dataset.stream);
  source.onmessage = function (message) {
    var update = JSON.parse(message.data);
    document.getElementById("rate").textContent = update.perSecond.toFixed(1);
    if (!update.latest.length) { return; }
    body.replaceChildren();
    update.latest.forEach(function (event) {
      var row = document.createElement("tr");
      [event.USER_ID, event.ITEM_ID, event.EVENT_TYPE,
       event.TIMESTAMP ? new Date(event.TIMESTAMP * 1000).toLocaleTimeString() : ""].forEach(function (value) {
        var cell = document.createElement("td");
        cell.textContent = value === undefined || value === null ? "" : String(value);
        row.appendChild(cell);
      });
      body.appendChild(row);
    });
  };
})();
