// updateBadge shows the Inbox's unread count in the tab's icon.
let lastCount = -1;

export function updateBadge(count: number): void {
  if (count === lastCount) return;
  lastCount = count;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 32;
  const c = canvas.getContext("2d");
  if (!c) return;
  c.fillStyle = "#2457c5";
  c.beginPath();
  c.roundRect(2, 6, 28, 20, 3);
  c.fill();
  c.strokeStyle = "#fff";
  c.lineWidth = 2;
  c.beginPath();
  c.moveTo(4, 8);
  c.lineTo(16, 18);
  c.lineTo(28, 8);
  c.stroke();
  if (count > 0) {
    const text = count > 99 ? "99+" : String(count);
    c.fillStyle = "#d93025";
    c.beginPath();
    c.arc(22, 10, 10, 0, Math.PI * 2);
    c.fill();
    c.fillStyle = "#fff";
    c.font = `bold ${text.length > 2 ? 9 : 12}px sans-serif`;
    c.textAlign = "center";
    c.textBaseline = "middle";
    c.fillText(text, 22, 11);
  }
  let link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
  if (!link) {
    link = document.createElement("link");
    link.rel = "icon";
    document.head.appendChild(link);
  }
  link.href = canvas.toDataURL("image/png");
  link.dataset.unread = String(count);
}
