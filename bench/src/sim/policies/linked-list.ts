/** A node of a `LinkedList`, held by the caller so that it can be moved or removed in O(1). */
export interface ListNode<T> {
  value: T;
  prev: ListNode<T> | undefined;
  next: ListNode<T> | undefined;
}

/**
 * A doubly linked list, head = most recent, tail = oldest. For policies that take entries out of the middle or
 * look at the oldest without removing it (LIRS's stack bottom, SIEVE's hand), which an `OrderedMap` cannot.
 */
export class LinkedList<T> {
  head: ListNode<T> | undefined;
  tail: ListNode<T> | undefined;
  length = 0;

  /** Insert `value` at the head and return its node. */
  unshift(value: T): ListNode<T> {
    const node: ListNode<T> = { value, prev: undefined, next: this.head };
    if (this.head) this.head.prev = node;
    else this.tail = node;
    this.head = node;
    this.length++;
    return node;
  }

  /** Insert `value` at the tail (the oldest end) and return its node. */
  push(value: T): ListNode<T> {
    const node: ListNode<T> = { value, prev: this.tail, next: undefined };
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.length++;
    return node;
  }

  remove(node: ListNode<T>): void {
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = node.next = undefined;
    this.length--;
  }

  /** Move `node` (in this list) to the head. */
  moveToHead(node: ListNode<T>): void {
    if (this.head === node) return;
    this.remove(node);
    node.next = this.head;
    if (this.head) this.head.prev = node;
    else this.tail = node;
    this.head = node;
    this.length++;
  }
}
