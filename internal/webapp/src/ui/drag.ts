// Dragging conversations onto folders: the data carried is the dragged
// conversations' thread ids, under a type of our own so that a file or
// text dropped on a folder does nothing.

export const dragType = "application/x-mailroom-threads";

export function startDrag(ev: DragEvent, threadIds: string[]): void {
  if (!ev.dataTransfer) return;
  ev.dataTransfer.setData(dragType, JSON.stringify(threadIds));
  ev.dataTransfer.effectAllowed = "move";
}

export function draggedThreads(ev: DragEvent): string[] {
  try {
    const v = JSON.parse(ev.dataTransfer?.getData(dragType) || "[]");
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}
