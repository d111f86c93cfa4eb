"""A small few-shot intent set: 12 intents of a home/travel assistant, 8 phrasings each.

Written for this lab (no download). Phrasings of one intent share meaning, not words: a
teacher's point is that a new intent is learned from one or a few sentences, and that a word
matcher (TF-IDF) only finds the sentence that shares its words while a sentence encoder finds
the one that shares its meaning. The set is fixed; seeds change which intents and sentences an
episode draws.
"""

from __future__ import annotations

import numpy as np

INTENTS: dict[str, tuple[str, ...]] = {
    "weather": (
        "will it rain tomorrow",
        "do I need an umbrella this afternoon",
        "what's the forecast for the weekend",
        "how hot is it going to be today",
        "is there snow expected in the mountains",
        "should I bring a jacket when I go out tonight",
        "tell me if the sun will be out on saturday",
        "any storms coming our way this week",
    ),
    "alarm": (
        "wake me up at six thirty",
        "set an alarm for 7 am",
        "I need to be up early, ring at five",
        "make sure I get out of bed by eight",
        "buzz me at noon so I don't oversleep my nap",
        "create a wake-up call for tomorrow morning",
        "can you get me up before sunrise",
        "put a morning alarm on for quarter past six",
    ),
    "play_music": (
        "play some jazz",
        "put on my running playlist",
        "I want to hear the new taylor swift album",
        "start some relaxing piano tunes",
        "shuffle my favourite songs",
        "queue up classic rock please",
        "could you spin something upbeat for the party",
        "let's have a bit of background music while I cook",
    ),
    "book_restaurant": (
        "reserve a table for two tonight",
        "get us a dinner booking at the italian place",
        "I'd like to eat out friday at eight, four people",
        "find me a spot for lunch tomorrow near the office",
        "can we grab a reservation at that sushi bar",
        "book somewhere to dine for my anniversary",
        "secure seats for six at a steakhouse on sunday",
        "is there availability to have brunch downtown this weekend",
    ),
    "transfer_money": (
        "send fifty dollars to my brother",
        "move 200 from checking to savings",
        "wire the rent to my landlord",
        "pay back sarah the twenty I owe her",
        "transfer funds between my accounts",
        "I need to give mom some cash through the bank app",
        "put a hundred euros into my daughter's account",
        "can you settle what I owe tom by bank transfer",
    ),
    "check_balance": (
        "how much money do I have",
        "what's left in my checking account",
        "show me my current balance",
        "am I overdrawn right now",
        "tell me what my savings look like",
        "how many dollars are sitting in the account",
        "can I afford this, what's my available credit",
        "give me the total in my wallet app",
    ),
    "flight_status": (
        "is my flight on time",
        "has the plane to boston been delayed",
        "when does flight ua 22 land",
        "check whether my departure was cancelled",
        "what gate does my plane leave from",
        "is the airline reporting any hold-up for my trip home",
        "tell me when the 9 o'clock to paris takes off",
        "did my connection arrive yet",
    ),
    "translate": (
        "how do you say thank you in japanese",
        "translate this sentence into spanish",
        "what does bonjour mean",
        "give me the german word for bread",
        "put good morning into italian",
        "I need this paragraph in french",
        "what's the english for gracias",
        "convert my message to portuguese",
    ),
    "set_timer": (
        "start a ten minute countdown",
        "time my pasta for eight minutes",
        "remind me in half an hour to check the oven",
        "count down 90 seconds",
        "let me know when 25 minutes are up",
        "begin a timer for the laundry",
        "beep after three minutes for the eggs",
        "track fifteen minutes for my workout break",
    ),
    "shopping_list": (
        "add milk to my shopping list",
        "put eggs and butter on the grocery list",
        "we're out of coffee, note it for the store",
        "remember to buy toilet paper",
        "what's on my groceries list",
        "remove bananas from the list",
        "I need to pick up bread at the supermarket, write it down",
        "include detergent in the things to get",
    ),
    "call_contact": (
        "call mom",
        "ring my dentist",
        "phone the office for me",
        "dial john's mobile",
        "get my sister on the line",
        "I want to speak to grandpa, place the call",
        "start a video chat with alex",
        "connect me to the pizza shop by phone",
    ),
    "lights": (
        "turn off the lights",
        "switch on the lamp in the bedroom",
        "dim the living room to thirty percent",
        "make the kitchen brighter",
        "it's too dark in here",
        "shut the hallway lights before bed",
        "set the bulbs to a warm colour",
        "power up the porch light",
    ),
}


def intent_data() -> tuple[list[str], np.ndarray, list[str]]:
    """Sentences, their intent ids ``(n,)`` int64 (class-major) and the intent names."""
    names = list(INTENTS)
    sentences = [s for name in names for s in INTENTS[name]]
    labels = np.repeat(np.arange(len(names), dtype=np.int64), [len(INTENTS[n]) for n in names])
    return sentences, labels, names
