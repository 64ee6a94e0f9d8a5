package com.example.inventory

import org.junit.jupiter.api.Test
import org.mockito.Mockito.mock
import org.mockito.Mockito.`when`
import org.springframework.http.HttpStatus
import org.springframework.kafka.core.KafkaTemplate
import kotlin.test.assertEquals

class ItemControllerTest {
    private val items = mock(ItemRepository::class.java)

    @Suppress("UNCHECKED_CAST")
    private val kafka = mock(KafkaTemplate::class.java) as KafkaTemplate<String, String>
    private val controller = ItemController(items, kafka)

    @Test
    fun `unknown sku is not found`() {
        `when`(items.findBySku("nope")).thenReturn(null)
        assertEquals(HttpStatus.NOT_FOUND, controller.get("nope").statusCode)
    }

    @Test
    fun `blank sku is rejected`() {
        val response = controller.create(Item(sku = " ", name = "Widget"))
        assertEquals(HttpStatus.BAD_REQUEST, response.statusCode)
    }
}
